//! `/proc/PID/limits` (proc_pid_limits(5)), through procfs's `Limits`.

use procfs::FromBufRead;
use procfs::process::{Limit, LimitValue};

pub use procfs::process::Limits;

/// Parses a limits text; `None` if procfs cannot read it. Pure.
pub fn parse(text: &str) -> Option<Limits> {
    Limits::from_buf_read(text.as_bytes()).ok()
}

/// The soft value of a limit; `None` when unlimited.
pub fn soft(limit: &Limit) -> Option<u64> {
    match limit.soft_limit {
        LimitValue::Value(value) => Some(value),
        LimitValue::Unlimited => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max file size             unlimited            unlimited            bytes     \n\
Max data size             unlimited            unlimited            bytes     \n\
Max stack size            8388608              unlimited            bytes     \n\
Max core file size        0                    unlimited            bytes     \n\
Max resident set          unlimited            unlimited            bytes     \n\
Max processes             31523                31523                processes \n\
Max open files            1024                 524288               files     \n\
Max locked memory         8388608              8388608              bytes     \n\
Max address space         unlimited            unlimited            bytes     \n\
Max file locks            unlimited            unlimited            locks     \n\
Max pending signals       31523                31523                signals   \n\
Max msgqueue size         819200               819200               bytes     \n\
Max nice priority         0                    0                    \n\
Max realtime priority     0                    0                    \n\
Max realtime timeout      unlimited            unlimited            us        \n";
        let limits = parse(text).unwrap();
        assert_eq!(soft(&limits.max_open_files), Some(1024));
        assert_eq!(soft(&limits.max_address_space), None);
        assert_eq!(soft(&limits.max_stack_size), Some(8388608));
        assert!(parse("Limit  Soft Limit  Hard Limit  Units\n").is_none());
    }
}
