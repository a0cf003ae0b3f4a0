//! Which processes hold a handle to an object: the system's handle table.
//!
//! `NtQuerySystemInformation(SystemExtendedHandleInformation)` lists every
//! open handle: the holder's PID, the handle's value, its object type
//! index and the object's kernel address. The address is not always given
//! (Windows 11 24H2 hides it from processes without SeDebugPrivilege; Wine
//! gives 0), so a process handle is identified by duplicating it
//! (`DuplicateHandle` from the holder, which needs PROCESS_DUP_HANDLE on
//! it) and asking `GetProcessId` of the copy. The type index of the
//! object's type is taken from a handle afterlife holds itself.

use std::collections::HashMap;
use std::io;

use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
use windows_sys::Win32::Foundation::{DuplicateHandle, HANDLE, STATUS_INFO_LENGTH_MISMATCH};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessId, OpenProcess, PROCESS_DUP_HANDLE, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::handle::Handle;

/// `SystemExtendedHandleInformation`, a SYSTEM_INFORMATION_CLASS value.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: i32 = 64;

/// The call, as evidence names it.
pub(crate) const SOURCE: &str = "NtQuerySystemInformation(SystemExtendedHandleInformation)";

/// One row of the table (`SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The object's kernel address (0 where it is hidden).
    pub object: usize,
    /// The holder's PID.
    pub pid: usize,
    /// The handle's value in the holder.
    pub handle: usize,
    granted_access: u32,
    creator_back_trace_index: u16,
    /// The object's type.
    pub type_index: u16,
    attributes: u32,
    reserved: u32,
}

/// Every open handle on the system now.
pub(crate) fn entries() -> io::Result<Vec<Entry>> {
    let mut size = 1usize << 16;
    loop {
        // usize elements keep the buffer aligned for the header and rows.
        let mut buffer = vec![0usize; size / size_of::<usize>()];
        let mut needed = 0u32;
        // SAFETY: a writable buffer of the size given.
        let status = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                buffer.as_mut_ptr().cast(),
                u32::try_from(size).unwrap_or(u32::MAX),
                &mut needed,
            )
        };
        if status == STATUS_INFO_LENGTH_MISMATCH && size < (1 << 30) {
            size = (size * 4).max(needed as usize + (1 << 16));
            continue;
        }
        if status < 0 {
            return Err(io::Error::other(format!("{SOURCE}: NTSTATUS {:#010X}", status as u32)));
        }
        return Ok(rows(&buffer));
    }
}

/// The rows of a filled buffer: a count, a reserved word, then the rows.
fn rows(buffer: &[usize]) -> Vec<Entry> {
    let count = buffer.first().copied().unwrap_or(0);
    let room = (buffer.len().saturating_sub(2) * size_of::<usize>()) / size_of::<Entry>();
    let count = count.min(room);
    let first = buffer.get(2..).unwrap_or_default().as_ptr().cast::<Entry>();
    (0..count)
        .map(|i| {
            let row = first.wrapping_add(i);
            // SAFETY: `count` rows fit in the buffer (checked against
            // `room`), which is aligned for usize, as the rows are; each
            // row is plain data written by the system.
            unsafe { row.read() }
        })
        .collect()
}

/// The rows of another process (not this one, not `skip`) whose handle is of
/// `type_index`, and, where the table gives object addresses, to `object`.
/// Pure.
pub(crate) fn candidates(table: &[Entry], type_index: u16, object: usize, me: usize, skip: usize) -> Vec<Entry> {
    table
        .iter()
        .filter(|e| e.type_index == type_index && e.pid != me && e.pid != skip)
        .filter(|e| object == 0 || e.object == 0 || e.object == object)
        .copied()
        .collect()
}

/// The processes other than this one that hold a handle to process `pid`,
/// found from `own`, a handle afterlife holds to it. Holders afterlife may
/// not open for PROCESS_DUP_HANDLE are counted in the second value.
pub(crate) fn holders_of_process(pid: u32, own: HANDLE) -> io::Result<(Vec<u32>, usize)> {
    let table = entries()?;
    let me = std::process::id() as usize;
    let own_row = table.iter().find(|e| e.pid == me && e.handle == own as usize).copied();
    let Some(own_row) = own_row else {
        return Err(io::Error::other(format!(
            "{SOURCE}: afterlife's own handle is not listed"
        )));
    };
    let mut holders: Vec<u32> = Vec::new();
    let mut unopened: Vec<u32> = Vec::new();
    let mut sources: HashMap<u32, Option<Handle>> = HashMap::new();
    for row in candidates(&table, own_row.type_index, own_row.object, me, pid as usize) {
        let holder = row.pid as u32;
        if holders.contains(&holder) {
            continue;
        }
        let source = sources.entry(holder).or_insert_with(|| open_for_dup(holder));
        let Some(source) = source else {
            if !unopened.contains(&holder) {
                unopened.push(holder);
            }
            continue;
        };
        if let Some(copy) = duplicate(source, row.handle)
            // SAFETY: a process handle just duplicated into this process.
            && unsafe { GetProcessId(copy.raw()) } == pid
        {
            holders.push(holder);
        }
    }
    unopened.retain(|p| !holders.contains(p));
    Ok((holders, unopened.len()))
}

/// The processes other than this one (and `skip`) that hold a handle of the
/// same type as `own` — and to the same object where the table gives
/// addresses; whether the addresses were compared.
pub(crate) fn holders_of_type(own: HANDLE, skip: u32) -> io::Result<(Vec<u32>, bool)> {
    let table = entries()?;
    let me = std::process::id() as usize;
    let own_row = table.iter().find(|e| e.pid == me && e.handle == own as usize).copied();
    let Some(own_row) = own_row else {
        return Err(io::Error::other(format!(
            "{SOURCE}: afterlife's own handle is not listed"
        )));
    };
    let mut holders: Vec<u32> = Vec::new();
    for row in candidates(&table, own_row.type_index, own_row.object, me, skip as usize) {
        if !holders.contains(&(row.pid as u32)) {
            holders.push(row.pid as u32);
        }
    }
    Ok((holders, own_row.object != 0))
}

fn open_for_dup(pid: u32) -> Option<Handle> {
    // SAFETY: plain call; the handle is checked.
    Handle::from_raw(unsafe { OpenProcess(PROCESS_DUP_HANDLE, 0, pid) })
}

/// A copy, in this process, of process handle `value` of process `source`,
/// with the right to ask its PID (the holder's own handle may have only
/// SYNCHRONIZE).
fn duplicate(source: &Handle, value: usize) -> Option<Handle> {
    let mut copy: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess has no preconditions; its pseudo-handle
    // needs no closing.
    let this = unsafe { GetCurrentProcess() };
    // SAFETY: a valid source process handle opened with PROCESS_DUP_HANDLE;
    // a value that is not a handle there just fails.
    let ok = unsafe {
        DuplicateHandle(
            source.raw(),
            value as HANDLE,
            this,
            &mut copy,
            PROCESS_QUERY_LIMITED_INFORMATION,
            0,
            0,
        )
    };
    if ok == 0 {
        return None;
    }
    Handle::from_raw(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: usize, handle: usize, type_index: u16, object: usize) -> Entry {
        Entry {
            object,
            pid,
            handle,
            granted_access: 0,
            creator_back_trace_index: 0,
            type_index,
            attributes: 0,
            reserved: 0,
        }
    }

    #[test]
    fn candidates_are_other_processes_with_the_type_and_the_object() {
        let table = [
            row(8, 4, 7, 0xA0),
            row(12, 4, 7, 0xA0),
            row(16, 8, 7, 0xB0),
            row(20, 8, 5, 0xA0),
            row(24, 8, 7, 0xA0),
        ];
        // Addresses known: only the same object; this process (8) and the
        // target (24) left out.
        let found: Vec<usize> = candidates(&table, 7, 0xA0, 8, 24).iter().map(|e| e.pid).collect();
        assert_eq!(found, [12]);
        // Addresses hidden (0): every handle of the type.
        let hidden = [row(8, 4, 7, 0), row(12, 4, 7, 0), row(16, 8, 7, 0)];
        let found: Vec<usize> = candidates(&hidden, 7, 0, 8, 0).iter().map(|e| e.pid).collect();
        assert_eq!(found, [12, 16]);
    }

    #[test]
    fn this_process_is_in_the_table() {
        let table = entries().unwrap();
        let me = std::process::id() as usize;
        assert!(table.iter().any(|e| e.pid == me));
    }
}
