//! `afterlife holds PATH` on a mount whose FUSE server never answers: the
//! `stat` of the path would wait for ever (as `fuser -m` does); holds gives
//! it two seconds, then matches the path as written and names the holder
//! of the mount.

use std::time::{Duration, Instant};

use crate::common;

use common::fuse::{FUSE_NEVER_READY, FuseMount};
use common::{Py, Scratch, run, run_json, stdout};

#[test]
fn a_hung_mount_is_answered_by_its_path() {
    let scratch = Scratch::new("holds-hung");
    let Some(fuse) = FuseMount::start(FUSE_NEVER_READY, &scratch, "mnt") else {
        return;
    };
    let mount_point = fuse.mount_point().to_str().unwrap().to_string();
    // An O_PATH open stops at the mount's root without asking the server.
    let py = Py::start(&format!(
        r#"
fd = os.open({mount_point:?}, os.O_PATH)
report(fd=fd)
finish()
"#
    ));
    let started = Instant::now();
    let (code, report) = run_json(&["holds", &mount_point]);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{report}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let result = &report["results"][0];
    assert_eq!(result["unanswered"], true, "{report}");
    let holder = result["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["pid"].as_i64() == Some(py.pid() as i64))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        (holder["via"].as_str(), holder["fd"].as_i64()),
        (Some("fd"), Some(py.num("fd")))
    );
    let text = stdout(&run(&["holds", &format!("{mount_point}/./")]));
    assert!(text.contains("did not answer stat within 2 s"), "{text}");
    assert!(text.contains(&py.pid().to_string()), "{text}");
    drop(fuse);
}
