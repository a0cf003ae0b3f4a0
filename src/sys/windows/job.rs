//! Job objects: a tree that ends when afterlife ends, however it ends.
//!
//! With `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, closing the last handle to the
//! job ends every process in it; afterlife holds the only handle, so its own
//! end (an exit, a crash, TerminateProcess) ends the tree. Children join
//! their parent's job when they are created. `TerminateJobObject` ends them
//! all at once; `JobObjectBasicProcessIdList` lists who is in it.
//!
//! Under Wine 8.0, `QueryInformationJobObject` reads LimitFlags back as 0,
//! and processes ended by a job's close report exit code 0 (Windows: the
//! job's exit code); neither is relied on here.

use std::io;

use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOBOBJECT_BASIC_PROCESS_ID_LIST,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectBasicProcessIdList, JobObjectExtendedLimitInformation,
    QueryInformationJobObject, SetInformationJobObject, TerminateJobObject,
};

use super::handle::Handle;

/// A job object that ends its processes when closed.
#[derive(Debug)]
pub(crate) struct Job(Handle);

impl Job {
    /// A new anonymous job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`.
    pub(crate) fn kill_on_close() -> io::Result<Job> {
        // SAFETY: no attributes, no name; the handle is checked.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        let job = Job(Handle::from_raw(raw).ok_or_else(io::Error::last_os_error)?);
        // SAFETY: plain data; zero is a valid value.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: a valid job handle, and a pointer to a struct of the size given.
        let ok = unsafe {
            SetInformationJobObject(
                job.0.raw(),
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
    }

    /// Puts a process (a handle with PROCESS_SET_QUOTA and
    /// PROCESS_TERMINATE) into the job.
    pub(crate) fn assign(&self, process: windows_sys::Win32::Foundation::HANDLE) -> io::Result<()> {
        // SAFETY: valid job and process handles.
        if unsafe { AssignProcessToJobObject(self.0.raw(), process) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The PIDs in the job now.
    pub(crate) fn pids(&self) -> io::Result<Vec<u32>> {
        // Room for 1024 processes; a list that does not fit is asked again
        // with more room.
        let mut room = 1024usize;
        loop {
            // The two u32 counts fill one usize, then one usize per PID.
            let words = 1 + room;
            let mut buffer = vec![0usize; words];
            let bytes = (buffer.len() * size_of::<usize>()) as u32;
            // SAFETY: a valid job handle; the buffer is as large as said and
            // aligned for JOBOBJECT_BASIC_PROCESS_ID_LIST.
            let ok = unsafe {
                QueryInformationJobObject(
                    self.0.raw(),
                    JobObjectBasicProcessIdList,
                    buffer.as_mut_ptr().cast(),
                    bytes,
                    std::ptr::null_mut(),
                )
            };
            // SAFETY: the buffer starts with the list's header.
            let list = unsafe { &*buffer.as_ptr().cast::<JOBOBJECT_BASIC_PROCESS_ID_LIST>() };
            let assigned = list.NumberOfAssignedProcesses as usize;
            if ok == 0 && assigned <= room {
                return Err(io::Error::last_os_error());
            }
            if assigned > room {
                room = assigned + 64;
                continue;
            }
            let listed = list.NumberOfProcessIdsInList as usize;
            // SAFETY: the system wrote `listed` ULONG_PTR entries after the
            // two header fields, inside the buffer.
            let ids = unsafe { std::slice::from_raw_parts(list.ProcessIdList.as_ptr(), listed) };
            return Ok(ids.iter().map(|&id| id as u32).collect());
        }
    }

    /// Ends every process in the job with `code`.
    pub(crate) fn terminate(&self, code: u32) -> io::Result<()> {
        // SAFETY: a valid job handle.
        if unsafe { TerminateJobObject(self.0.raw(), code) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::windows::io::AsRawHandle;
    use std::process::Command;
    use std::time::Duration;

    use super::*;
    use crate::sys::windows::handle::ProcessHandle;

    #[test]
    fn a_job_lists_its_process_and_ends_it() {
        let job = Job::kill_on_close().unwrap();
        // `ping` waits about a second per echo: a real Windows program that
        // runs long enough.
        let mut child = Command::new("ping").args(["-n", "30", "127.0.0.1"]).spawn().unwrap();
        let held = ProcessHandle::open(child.id(), 0).unwrap();
        job.assign(child.as_raw_handle().cast()).unwrap();
        assert_eq!(job.pids().unwrap(), vec![child.id()]);
        job.terminate(7).unwrap();
        assert!(held.wait(Some(Duration::from_secs(10))));
        // Windows leaves the job's exit code; Wine 8.0 too for
        // TerminateJobObject (it differs only for a job's close).
        assert_eq!(held.exit_code(), Some(7));
        child.wait().unwrap();
    }

    #[test]
    fn closing_the_job_ends_its_tree() {
        let job = Job::kill_on_close().unwrap();
        let mut child = Command::new("ping").args(["-n", "30", "127.0.0.1"]).spawn().unwrap();
        let held = ProcessHandle::open(child.id(), 0).unwrap();
        job.assign(child.as_raw_handle().cast()).unwrap();
        drop(job);
        assert!(held.wait(Some(Duration::from_secs(10))), "KILL_ON_JOB_CLOSE ends it");
        // Windows: the exit code is 0 for a close; Wine 8.0 too. Both agree
        // it has ended, which is what is asserted.
        assert!(held.exit_code().is_some());
        child.wait().unwrap();
    }
}
