//! The BSD `sysexits.h` exit codes (64-78), which many Unix programs use:
//! sendmail, mail filters, some build tools, Python's `os.EX_*`.

/// A `sysexits.h` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sysexit {
    /// The number.
    pub code: u8,
    /// The C name.
    pub name: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

const TABLE: &[Sysexit] = &[
    Sysexit {
        code: 64,
        name: "EX_USAGE",
        meaning: "command line usage error",
    },
    Sysexit {
        code: 65,
        name: "EX_DATAERR",
        meaning: "data format error in the input",
    },
    Sysexit {
        code: 66,
        name: "EX_NOINPUT",
        meaning: "cannot open input",
    },
    Sysexit {
        code: 67,
        name: "EX_NOUSER",
        meaning: "addressee unknown",
    },
    Sysexit {
        code: 68,
        name: "EX_NOHOST",
        meaning: "host name unknown",
    },
    Sysexit {
        code: 69,
        name: "EX_UNAVAILABLE",
        meaning: "service unavailable",
    },
    Sysexit {
        code: 70,
        name: "EX_SOFTWARE",
        meaning: "internal software error",
    },
    Sysexit {
        code: 71,
        name: "EX_OSERR",
        meaning: "system error (for example, cannot fork)",
    },
    Sysexit {
        code: 72,
        name: "EX_OSFILE",
        meaning: "critical OS file missing",
    },
    Sysexit {
        code: 73,
        name: "EX_CANTCREAT",
        meaning: "cannot create (user) output file",
    },
    Sysexit {
        code: 74,
        name: "EX_IOERR",
        meaning: "input/output error",
    },
    Sysexit {
        code: 75,
        name: "EX_TEMPFAIL",
        meaning: "temporary failure; the user is invited to retry",
    },
    Sysexit {
        code: 76,
        name: "EX_PROTOCOL",
        meaning: "remote error in protocol",
    },
    Sysexit {
        code: 77,
        name: "EX_NOPERM",
        meaning: "permission denied",
    },
    Sysexit {
        code: 78,
        name: "EX_CONFIG",
        meaning: "configuration error",
    },
];

/// The `sysexits.h` meaning of `code`, if it has one.
pub fn lookup(code: u8) -> Option<&'static Sysexit> {
    TABLE.iter().find(|s| s.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_64_to_78() {
        for code in 64..=78 {
            assert_eq!(lookup(code).unwrap().code, code);
        }
        assert!(lookup(63).is_none());
        assert!(lookup(79).is_none());
        assert_eq!(lookup(64).unwrap().name, "EX_USAGE");
        assert_eq!(lookup(78).unwrap().name, "EX_CONFIG");
    }
}
