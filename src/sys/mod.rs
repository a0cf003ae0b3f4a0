//! The operating system's calls that need `unsafe`, in one layer per
//! platform. Everything above it calls safe functions; each function here
//! is small and carries its own `// SAFETY:` reasons.

#[cfg(target_os = "linux")]
pub(crate) mod linux;
