//! Netlink messages and attributes read from bytes (pure): the walk every
//! netlink reader here needs — `sock_diag` dumps (`resources::sockets`),
//! the proc connector's events and the taskstats family's exit records
//! (`deaths`) — and the native-endian fields their structures hold. Each
//! read is bounds-checked: a short or malformed datagram ends the walk,
//! it never panics. Also the receive buffer each of those sockets asks for.

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;
/// `nlmsg_type` of an acknowledgement or error.
pub const NLMSG_ERROR: u16 = 2;
/// `nlmsg_type` that ends a dump.
pub const NLMSG_DONE: u16 = 3;
/// `nla_type`'s flag bits (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The receive buffer a netlink socket here asks for: 8 MiB, room for a
/// burst of events while the reader is busy.
pub const RECEIVE_BUFFER: usize = 8 << 20;

/// Sets the receive buffer of a netlink socket to `bytes` (the kernel
/// doubles it for its bookkeeping). `EPERM` for the forced size without
/// `CAP_NET_ADMIN`: the plain one is then capped at `rmem_max`, still
/// better than the default.
pub fn set_receive_buffer(fd: std::os::fd::BorrowedFd<'_>, bytes: usize) {
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, bytes).is_err() {
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(fd, bytes);
    }
}

/// A native-endian `u16` at `at`, if `bytes` hold it.
pub fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

/// A native-endian `u32` at `at`, if `bytes` hold it.
pub fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// A native-endian `u64` at `at`, if `bytes` hold it.
pub fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// The messages of one datagram: each message's type and the bytes after
/// its header. A length that does not fit ends the walk.
pub fn messages(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = u32_at(bytes, at)? as usize;
        if len < NLMSG_HDRLEN || at + len > bytes.len() {
            return None;
        }
        let message = (u16_at(bytes, at + 4)?, &bytes[at + NLMSG_HDRLEN..at + len]);
        at += len.next_multiple_of(4);
        Some(message)
    })
}

/// The attributes in `bytes` (`struct nlattr`: length, type, data, each
/// padded to 4 bytes): each type (flags masked off) and data; a malformed
/// one ends them.
pub fn attributes(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(bytes, at)?);
        if len < 4 || at + len > bytes.len() {
            return None;
        }
        let attribute = (u16_at(bytes, at + 2)? & NLA_TYPE_MASK, &bytes[at + 4..at + len]);
        at += len.next_multiple_of(4);
        Some(attribute)
    })
}

/// The error number of an acknowledgement (`NLMSG_ERROR`'s payload).
pub fn error_of(payload: &[u8]) -> Option<i32> {
    u32_at(payload, 0).map(|e| e as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_walked_and_a_bad_length_ends_the_walk() {
        let mut bytes = Vec::new();
        for (kind, payload) in [(7u16, &b"abcd"[..]), (8, &b"xy"[..])] {
            let len = (NLMSG_HDRLEN + payload.len()) as u32;
            bytes.extend_from_slice(&len.to_ne_bytes());
            bytes.extend_from_slice(&kind.to_ne_bytes());
            bytes.extend_from_slice(&[0; 10]);
            bytes.extend_from_slice(payload);
            bytes.resize(bytes.len().next_multiple_of(4), 0);
        }
        let walked: Vec<_> = messages(&bytes).collect();
        assert_eq!(walked, [(7, &b"abcd"[..]), (8, &b"xy"[..])]);
        bytes[20..24].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(messages(&bytes).count(), 1, "the second claims more than there is");
        assert_eq!(messages(&bytes[..3]).count(), 0);
        assert_eq!(u64_at(&bytes, usize::MAX - 2), None);
    }

    #[test]
    fn attributes_lose_their_flag_bits() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&6u16.to_ne_bytes());
        bytes.extend_from_slice(&(4u16 | 0x8000).to_ne_bytes());
        bytes.extend_from_slice(b"hi\0\0");
        assert_eq!(attributes(&bytes).collect::<Vec<_>>(), [(4, &b"hi"[..])]);
    }
}
