//! The account a process runs as: its token's user SID (`OpenProcessToken`,
//! `GetTokenInformation(TokenUser)`) named by `LookupAccountSidW`, as
//! `DOMAIN\name`.
//!
//! Reading another user's token, or a protected process's, is denied
//! without administrator rights; the caller says so and goes on.

use std::io;

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_INSUFFICIENT_BUFFER, HANDLE};
use windows_sys::Win32::Security::{GetTokenInformation, LookupAccountSidW, TOKEN_QUERY, TOKEN_USER, TokenUser};
use windows_sys::Win32::System::Threading::{OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION};

use super::handle::Handle;

/// Why a process's user could not be named.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountError {
    /// The process or its token may not be read.
    #[error("access denied ({call} for process {pid})")]
    Denied {
        /// The PID.
        pid: u32,
        /// The call that was denied.
        call: &'static str,
    },
    /// Any other failure.
    #[error("{call} for process {pid}: {source}")]
    Other {
        /// The PID.
        pid: u32,
        /// The call that failed.
        call: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl AccountError {
    fn last(pid: u32, call: &'static str) -> AccountError {
        let source = io::Error::last_os_error();
        if source.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) {
            AccountError::Denied { pid, call }
        } else {
            AccountError::Other { pid, call, source }
        }
    }
}

/// `DOMAIN\name` of the user `pid` runs as.
pub(crate) fn user_of(pid: u32) -> Result<String, AccountError> {
    // SAFETY: plain call; the handle is checked.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    let process = Handle::from_raw(raw).ok_or_else(|| AccountError::last(pid, "OpenProcess"))?;
    let mut raw_token: HANDLE = std::ptr::null_mut();
    // SAFETY: a valid process handle and a local to write the token into.
    if unsafe { OpenProcessToken(process.raw(), TOKEN_QUERY, &mut raw_token) } == 0 {
        return Err(AccountError::last(pid, "OpenProcessToken"));
    }
    let token = Handle::from_raw(raw_token).ok_or_else(|| AccountError::last(pid, "OpenProcessToken"))?;
    let user = token_user(&token).map_err(|source| AccountError::Other {
        pid,
        call: "GetTokenInformation",
        source,
    })?;
    account_name(&user).map_err(|source| AccountError::Other {
        pid,
        call: "LookupAccountSidW",
        source,
    })
}

/// The `TOKEN_USER` of a token, in a buffer of pointer-aligned words (it
/// holds the SID its first field points to).
fn token_user(token: &Handle) -> io::Result<Vec<usize>> {
    let mut needed = 0u32;
    // SAFETY: a valid token handle; a null buffer of length 0 asks the size.
    let ok = unsafe { GetTokenInformation(token.raw(), TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    let error = io::Error::last_os_error();
    if ok == 0 && error.raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32) {
        return Err(error);
    }
    let mut words = vec![0usize; (needed as usize).div_ceil(size_of::<usize>()).max(1)];
    let length = (words.len() * size_of::<usize>()) as u32;
    // SAFETY: `words` has `length` writable bytes, aligned for TOKEN_USER.
    let ok = unsafe { GetTokenInformation(token.raw(), TokenUser, words.as_mut_ptr().cast(), length, &mut needed) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(words)
}

/// `DOMAIN\name` of the SID in a `TOKEN_USER` buffer.
fn account_name(user: &[usize]) -> io::Result<String> {
    let user: *const TOKEN_USER = user.as_ptr().cast();
    // SAFETY: `user` was filled by GetTokenInformation(TokenUser) and is
    // aligned; its SID points into the same live buffer.
    let sid = unsafe { (*user).User.Sid };
    let (mut name, mut domain) = (vec![0u16; 256], vec![0u16; 256]);
    let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
    let mut kind = 0;
    // SAFETY: a valid SID; two buffers with their lengths in characters.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    name.truncate(name_len as usize);
    domain.truncate(domain_len as usize);
    Ok(qualified(
        &String::from_utf16_lossy(&domain),
        &String::from_utf16_lossy(&name),
    ))
}

/// `DOMAIN\name`, or the name alone when the account has no domain. Pure.
fn qualified(domain: &str, name: &str) -> String {
    if domain.is_empty() {
        name.to_string()
    } else {
        format!("{domain}\\{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_named_with_their_domain() {
        assert_eq!(qualified("DESKTOP-1", "ana"), "DESKTOP-1\\ana");
        assert_eq!(qualified("", "Everyone"), "Everyone");
    }

    #[test]
    fn afterlife_names_its_own_user() {
        let user = user_of(std::process::id()).unwrap();
        assert!(!user.is_empty());
    }
}
