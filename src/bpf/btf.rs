//! The few facts afterlife needs from the kernel's own type information
//! (BTF, `/sys/kernel/btf/vmlinux`): the type ID of a function and the byte
//! offset of a struct member, found by name. Used to build the BPF program
//! of [`crate::bpf`]'s iterators for the running kernel.
//!
//! Format (Documentation/bpf/btf.rst): a header (magic `0xeB9F`), then the
//! type section — records of `name_off`, `info` (kind in bits 24–28,
//! `kind_flag` in bit 31, `vlen` in bits 0–15) and `size_or_type`, each
//! followed by kind-specific data — then the string section. Type IDs start
//! at 1. A struct member's `offset` is in bits; with `kind_flag` set its low
//! 24 bits are the offset and the high 8 bits the bitfield size.

/// One parsed BTF blob.
#[derive(Debug)]
pub struct Btf {
    data: Vec<u8>,
    strings: std::ops::Range<usize>,
    /// Byte offset (in `data`) of each type record; index 0 is type ID 1.
    offsets: Vec<usize>,
}

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl Btf {
    /// The running kernel's BTF; `None` where the kernel has none or it
    /// cannot be read.
    ///
    /// Asked of `bpf(2)` first (the kernel copies the whole blob in one call;
    /// needs `CAP_SYS_ADMIN`), which is about ten times faster than reading
    /// `/sys/kernel/btf/vmlinux`, a file sysfs hands out a page per `read`.
    pub fn vmlinux() -> Option<Btf> {
        Btf::from_bpf().or_else(|| Btf::parse(std::fs::read("/sys/kernel/btf/vmlinux").ok()?))
    }

    /// The kernel's own BTF object ("vmlinux") through `bpf(2)`:
    /// `BPF_BTF_GET_NEXT_ID`, `BPF_BTF_GET_FD_BY_ID`, then
    /// `BPF_OBJ_GET_INFO_BY_FD` with a buffer for the raw blob.
    fn from_bpf() -> Option<Btf> {
        use crate::bpf::{get_u32, put_u32, put_u64};
        use crate::sys::linux::bpf::{bpf, bpf_fd};
        use std::os::fd::AsRawFd;
        const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
        const BPF_BTF_GET_FD_BY_ID: libc::c_long = 19;
        const BPF_BTF_GET_NEXT_ID: libc::c_long = 23;
        let mut id = 0u32;
        // The vmlinux object is registered first; a few tries at most.
        for _ in 0..8 {
            let mut attr = [0u8; 16];
            put_u32(&mut attr, 0, id);
            // SAFETY: this attribute holds no pointer.
            unsafe { bpf(BPF_BTF_GET_NEXT_ID, &mut attr) }.ok()?;
            id = get_u32(&attr, 4);
            let mut attr = [0u8; 16];
            put_u32(&mut attr, 0, id);
            // SAFETY: this attribute holds no pointer.
            let fd = unsafe { bpf_fd(BPF_BTF_GET_FD_BY_ID, &mut attr) }.ok()?;
            // struct bpf_btf_info: btf, btf_size, id, name, name_len,
            // kernel_btf. Asked twice: for the name and size, then the blob.
            let get_info = |buffer: &mut [u8], name: &mut [u8; 16]| -> Option<usize> {
                let mut info = [0u8; 32];
                put_u64(&mut info, 0, buffer.as_mut_ptr() as u64);
                put_u32(&mut info, 8, buffer.len() as u32);
                put_u64(&mut info, 16, name.as_mut_ptr() as u64);
                put_u32(&mut info, 24, name.len() as u32);
                let mut attr = [0u8; 16];
                put_u32(&mut attr, 0, fd.as_raw_fd() as u32);
                put_u32(&mut attr, 4, info.len() as u32);
                put_u64(&mut attr, 8, info.as_mut_ptr() as u64);
                // SAFETY: `attr` points to `info`, which points to `buffer`
                // and `name`, each with its length; all live and writable
                // for the call.
                unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }.ok()?;
                Some(get_u32(&info, 8) as usize)
            };
            let mut name = [0u8; 16];
            let size = get_info(&mut [], &mut name)?;
            if !name.starts_with(b"vmlinux\0") {
                continue;
            }
            // Zeroed pages from the allocator (a large zeroed allocation is
            // fresh mapped memory, not written twice).
            let mut data = vec![0u8; size];
            if get_info(&mut data, &mut name)? != size {
                return None;
            }
            return Btf::parse(data);
        }
        None
    }

    /// Parses a BTF blob (little-endian, as on x86_64 and aarch64). Pure.
    pub fn parse(data: Vec<u8>) -> Option<Btf> {
        if data.get(0..2)? != [0x9f, 0xeb] {
            return None;
        }
        let hdr_len = u32_at(&data, 4)? as usize;
        let type_off = u32_at(&data, 8)? as usize;
        let type_len = u32_at(&data, 12)? as usize;
        let str_off = u32_at(&data, 16)? as usize;
        let str_len = u32_at(&data, 20)? as usize;
        let types = hdr_len + type_off..hdr_len + type_off + type_len;
        let strings = hdr_len + str_off..hdr_len + str_off + str_len;
        if types.end > data.len() || strings.end > data.len() {
            return None;
        }
        let mut offsets = Vec::with_capacity(type_len / 16);
        let mut at = types.start;
        while at + 12 <= types.end {
            offsets.push(at);
            let info = u32_at(&data, at + 4)?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                _ => 0,
            };
            at += 12 + extra;
        }
        Some(Btf { data, strings, offsets })
    }

    fn name(&self, name_off: u32) -> &[u8] {
        let start = self.strings.start + name_off as usize;
        let rest = self.data.get(start..self.strings.end).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// (name_off, kind, kind_flag, vlen, size_or_type, record offset) of a type ID.
    fn record(&self, id: u32) -> Option<(u32, u32, bool, usize, u32, usize)> {
        let at = *self.offsets.get((id as usize).checked_sub(1)?)?;
        let name_off = u32_at(&self.data, at)?;
        let info = u32_at(&self.data, at + 4)?;
        let size_or_type = u32_at(&self.data, at + 8)?;
        Some((
            name_off,
            (info >> 24) & 0x1f,
            info >> 31 == 1,
            (info & 0xffff) as usize,
            size_or_type,
            at,
        ))
    }

    /// The ID of the first type of `kind` named `name`.
    fn find(&self, kind: u32, name: &str) -> Option<u32> {
        (1..=self.offsets.len() as u32).find(|&id| {
            self.record(id)
                .is_some_and(|(name_off, k, ..)| k == kind && self.name(name_off) == name.as_bytes())
        })
    }

    /// The type ID of the function `name` (a `FUNC` record).
    pub fn func_id(&self, name: &str) -> Option<u32> {
        self.find(KIND_FUNC, name)
    }

    /// The type ID of the typedef `name` (a BTF-enabled tracepoint's
    /// `btf_trace_*`).
    pub fn typedef_id(&self, name: &str) -> Option<u32> {
        self.find(KIND_TYPEDEF, name)
    }

    /// Skips typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> Option<u32> {
        for _ in 0..32 {
            let (_, kind, _, _, next, _) = self.record(id)?;
            match kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => id = next,
                _ => return Some(id),
            }
        }
        None
    }

    /// The byte offset and type ID of `member` in the struct or union
    /// `id`, looking inside anonymous struct and union members too.
    fn member_in(&self, id: u32, member: &str, depth: usize) -> Option<(usize, u32)> {
        if depth > 8 {
            return None;
        }
        let (_, kind, kind_flag, vlen, _, at) = self.record(self.resolve(id)?)?;
        if kind != KIND_STRUCT && kind != KIND_UNION {
            return None;
        }
        for i in 0..vlen {
            let m = at + 12 + 12 * i;
            let name_off = u32_at(&self.data, m)?;
            let ty = u32_at(&self.data, m + 4)?;
            let raw = u32_at(&self.data, m + 8)?;
            let bits = if kind_flag { raw & 0x00ff_ffff } else { raw };
            // A bitfield has no byte address of its own.
            if kind_flag && raw >> 24 != 0 {
                continue;
            }
            if bits % 8 != 0 {
                continue;
            }
            let name = self.name(name_off);
            if name == member.as_bytes() {
                return Some((bits as usize / 8, ty));
            }
            if name.is_empty()
                && let Some((inner, ty)) = self.member_in(ty, member, depth + 1)
            {
                return Some((bits as usize / 8 + inner, ty));
            }
        }
        None
    }

    /// The byte offset of `member` in `struct name`.
    pub fn member_offset(&self, name: &str, member: &str) -> Option<usize> {
        let id = self.find(KIND_STRUCT, name)?;
        self.member_in(id, member, 0).map(|(offset, _)| offset)
    }

    /// The size in bytes of `struct name`.
    pub fn struct_size(&self, name: &str) -> Option<usize> {
        let (.., size, _) = self.record(self.find(KIND_STRUCT, name)?)?;
        Some(size as usize)
    }

    /// The element count of `member` of `struct name` where that member is
    /// an array of `struct element`; `None` for any other type.
    pub fn struct_array_len(&self, name: &str, member: &str, element: &str) -> Option<usize> {
        let (_, ty) = self.member_in(self.find(KIND_STRUCT, name)?, member, 0)?;
        let (_, kind, .., at) = self.record(self.resolve(ty)?)?;
        if kind != KIND_ARRAY {
            return None;
        }
        let (elem, count) = (u32_at(&self.data, at + 12)?, u32_at(&self.data, at + 20)?);
        let (name_off, kind, ..) = self.record(self.resolve(elem)?)?;
        (kind == KIND_STRUCT && self.name(name_off) == element.as_bytes()).then_some(count as usize)
    }

    /// How many types the blob holds.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether the blob holds no type.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob with `int`, `struct inner { int a; int b; }` and
    /// `struct outer { int x; struct { int y; }; struct inner in; }`, and
    /// a function `f`.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0inner\0a\0b\0outer\0x\0y\0in\0f\0holder\0arr\0v\0";
        let off = |s: &str| -> u32 {
            let needle = format!("\0{s}\0");
            strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut types: Vec<u32> = Vec::new();
        let mut ty = |name: u32, kind: u32, vlen: u32, size: u32, extra: &[u32]| {
            types.extend([name, (kind << 24) | vlen, size]);
            types.extend_from_slice(extra);
        };
        // 1: int
        ty(off("int"), KIND_INT, 0, 4, &[32]);
        // 2: struct inner
        ty(off("inner"), KIND_STRUCT, 2, 8, &[off("a"), 1, 0, off("b"), 1, 32]);
        // 3: anonymous struct { int y; }
        ty(0, KIND_STRUCT, 1, 4, &[off("y"), 1, 0]);
        // 4: struct outer
        ty(
            off("outer"),
            KIND_STRUCT,
            3,
            16,
            &[off("x"), 1, 0, 0, 3, 32, off("in"), 2, 64],
        );
        // 5: func proto, 6: func f
        ty(0, KIND_FUNC_PROTO, 0, 1, &[]);
        ty(off("f"), KIND_FUNC, 0, 5, &[]);
        // 7: struct inner[3], 8: struct holder { int x; struct inner arr[3]; },
        // 9: a variable v of type int
        ty(0, KIND_ARRAY, 0, 0, &[2, 1, 3]);
        ty(off("holder"), KIND_STRUCT, 2, 28, &[off("x"), 1, 0, off("arr"), 7, 32]);
        ty(off("v"), KIND_VAR, 0, 1, &[1]);
        let type_bytes: Vec<u8> = types.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut data = vec![0x9f, 0xeb, 1, 0];
        for v in [
            24u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            strings.len() as u32,
        ] {
            data.extend(v.to_le_bytes());
        }
        data.extend(type_bytes);
        data.extend_from_slice(strings);
        data
    }

    #[test]
    fn finds_functions_and_members_even_in_anonymous_structs() {
        let btf = Btf::parse(blob()).unwrap();
        assert_eq!(btf.len(), 9);
        assert!(!btf.is_empty());
        assert_eq!(btf.func_id("f"), Some(6));
        assert_eq!(btf.func_id("g"), None);
        assert_eq!(btf.member_offset("inner", "b"), Some(4));
        assert_eq!(btf.member_offset("outer", "x"), Some(0));
        assert_eq!(btf.member_offset("outer", "y"), Some(4));
        assert_eq!(btf.member_offset("outer", "in"), Some(8));
        assert_eq!(btf.member_offset("outer", "z"), None);
        assert_eq!(btf.member_offset("nosuch", "x"), None);
    }

    #[test]
    fn finds_sizes_and_arrays_of_structs() {
        let btf = Btf::parse(blob()).unwrap();
        assert_eq!(btf.struct_size("inner"), Some(8));
        assert_eq!(btf.struct_size("holder"), Some(28));
        assert_eq!(btf.struct_array_len("holder", "arr", "inner"), Some(3));
        assert_eq!(btf.struct_array_len("holder", "arr", "outer"), None);
        assert_eq!(btf.struct_array_len("holder", "x", "inner"), None);
        assert_eq!(btf.member_offset("holder", "arr"), Some(4));
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert!(Btf::parse(b"not btf at all, not at all".to_vec()).is_none());
        assert!(Btf::parse(Vec::new()).is_none());
    }
}
