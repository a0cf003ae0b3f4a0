//! `/proc/PID/task/TID/children` (`CONFIG_PROC_CHILDREN`, Linux 3.5): the
//! children a thread forked, as space-separated PIDs. procfs reads it only
//! by path (`Task::children`); `watch` re-reads a file it keeps open, so
//! the text is parsed here.

use crate::process::Pid;

/// The PIDs of a children text. Pure.
pub fn pids(text: &[u8]) -> impl Iterator<Item = Pid> + '_ {
    text.split(|b| b.is_ascii_whitespace())
        .filter_map(|word| std::str::from_utf8(word).ok()?.parse().ok())
        .filter_map(Pid::new)
}

/// How many children a children text names, without parsing them. Pure.
pub fn count(text: &[u8]) -> u64 {
    text.split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_parse() {
        let text = b"812 813 9001 ";
        assert_eq!(count(text), 3);
        assert_eq!(pids(text).map(Pid::get).collect::<Vec<_>>(), vec![812, 813, 9001]);
        assert_eq!(count(b""), 0);
        assert_eq!(pids(b"").count(), 0);
    }
}
