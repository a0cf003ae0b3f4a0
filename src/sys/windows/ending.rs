//! How a Windows process ended: its 32-bit exit code as each observer
//! reads it, and the NTSTATUS it may be.
//!
//! cmd's `%ERRORLEVEL%` and PowerShell's `$LASTEXITCODE` show the code as a
//! signed 32-bit number (0xC0000005 is -1073741819); an exit code with the
//! two top bits set is, by convention, an NTSTATUS error (an unhandled
//! exception, Ctrl+C, a fail-fast), named from [`crate::exit::windows`].

use serde::Serialize;

/// An exit code and its readings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsEnding {
    /// `GetExitCodeProcess`, all 32 bits.
    pub exit_code: u32,
    /// The same in hexadecimal, as NTSTATUS values are written.
    pub hex: String,
    /// cmd's `%ERRORLEVEL%` (and PowerShell's `$LASTEXITCODE`): signed.
    pub errorlevel: i32,
    /// The NTSTATUS or Win32 name, when the code is a known one.
    pub name: Option<&'static str>,
    /// What it means.
    pub meaning: String,
}

impl WindowsEnding {
    /// The readings of `code`. Pure.
    pub fn of(code: u32) -> WindowsEnding {
        // Small numbers are the program's own codes: naming 1 "incorrect
        // function" would mislead. Only NTSTATUS-sized values get names.
        let known = crate::exit::windows::lookup(code).filter(|_| code > 0xFFFF);
        let meaning = match (code, known) {
            (0, _) => "success".to_string(),
            (259, _) => "the program's own exit code 259, the value of STILL_ACTIVE: the process has ended (its handle is signaled)".to_string(),
            (_, Some(known)) => known.meaning.to_string(),
            (c, None) if crate::exit::windows::looks_like_ntstatus(c) => {
                let layout = crate::exit::windows::decode_layout(c);
                format!("an NTSTATUS value ({}) afterlife has no name for", layout.severity.describe())
            }
            (c, None) => format!("the program's own exit code {c}"),
        };
        WindowsEnding {
            exit_code: code,
            hex: format!("0x{code:08X}"),
            errorlevel: code as i32,
            name: known.map(|k| k.name),
            meaning,
        }
    }

    /// One line: "exit code 0xC0000005 (-1073741819, STATUS_ACCESS_VIOLATION: ...)".
    pub fn describe(&self) -> String {
        let number = if self.exit_code > 0xFFFF {
            format!("{} (%ERRORLEVEL% {})", self.hex, self.errorlevel)
        } else {
            self.exit_code.to_string()
        };
        match self.name {
            Some(name) => format!("exit code {number}, {name}: {}", self.meaning),
            None if self.exit_code == 0 => format!("exit code {number} (success)"),
            None => format!("exit code {number}"),
        }
    }

    /// afterlife's own exit code for this ending, as `wait` returns it: the
    /// low byte (what a POSIX shell would see), 0 only for 0.
    pub fn shell_code(&self) -> u8 {
        match self.exit_code {
            0 => 0,
            c if c & 0xFF == 0 => 1,
            c => (c & 0xFF) as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_violation_reads_as_every_observer_sees_it() {
        let ending = WindowsEnding::of(0xC000_0005);
        assert_eq!(ending.hex, "0xC0000005");
        assert_eq!(ending.errorlevel, -1_073_741_819);
        assert_eq!(ending.name, Some("STATUS_ACCESS_VIOLATION"));
        assert!(
            ending
                .describe()
                .starts_with("exit code 0xC0000005 (%ERRORLEVEL% -1073741819), STATUS_ACCESS_VIOLATION")
        );
    }

    #[test]
    fn ctrl_c_and_still_active_are_named() {
        assert_eq!(WindowsEnding::of(0xC000_013A).name, Some("STATUS_CONTROL_C_EXIT"));
        // 259 is STILL_ACTIVE's value: a real exit code once the process
        // has ended.
        assert_eq!(WindowsEnding::of(259).exit_code, 259);
    }

    #[test]
    fn plain_codes_keep_their_number() {
        assert_eq!(WindowsEnding::of(3).describe(), "exit code 3");
        assert_eq!(WindowsEnding::of(0).describe(), "exit code 0 (success)");
        assert_eq!(WindowsEnding::of(3).shell_code(), 3);
        assert_eq!(WindowsEnding::of(256).shell_code(), 1);
    }
}
