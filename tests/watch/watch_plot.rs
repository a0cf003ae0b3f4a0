//! `afterlife watch --plot`: the chart is a valid SVG or PNG with every
//! metric, its trend line and the verdict.

use crate::common;

use std::process::Command;

use common::{Scratch, WatchFixture, afterlife, stderr};

fn plot(pid: i32, path: &std::path::Path) {
    let output = afterlife()
        .args(["watch", "--interval", "50ms", "--duration", "1.5s", "--plot"])
        .arg(path)
        .arg(pid.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "a leak: {}", stderr(&output));
}

#[test]
fn svg_plot_is_valid_xml_with_every_series() {
    let _core = crate::busy_core();
    let scratch = Scratch::new("watch-plot-svg");
    let fixture = WatchFixture::start("pipes", 400, &[]);
    let path = scratch.path().join("chart.svg");
    plot(fixture.pid(), &path);
    // Parse it as XML and list every text element.
    let parse = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as E\n\
root = E.parse(sys.argv[1]).getroot()\n\
assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n\
print(root.get('width'), root.get('height'))\n\
for t in root.iter('{http://www.w3.org/2000/svg}text'):\n    print(''.join(t.itertext()))\n",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        parse.status.success(),
        "not valid SVG: {}",
        String::from_utf8_lossy(&parse.stderr)
    );
    let texts = String::from_utf8_lossy(&parse.stdout);
    let lines: Vec<&str> = texts.lines().collect();
    assert_eq!(lines[0], "1200 1400");
    // One legend entry per series, with its verdict; one key for the
    // dashed trend lines.
    for series in [
        "open fds (leaking)",
        "pipe fds (leaking)",
        "dashed: trend (Theil–Sen)",
        "seconds since the watch started",
    ] {
        assert!(lines.contains(&series), "no {series:?} in {lines:?}");
    }
    for series in ["RSS (", "PSS (", "swap (", "threads (", "children ("] {
        assert!(
            lines.iter().any(|l| l.starts_with(series)),
            "no {series:?} in {lines:?}"
        );
    }
    // Only the kinds the process had: it never had an eventfd.
    assert!(!lines.iter().any(|l| l.starts_with("eventfd")), "{lines:?}");
    let title = format!("afterlife watch: {} python3", fixture.pid());
    assert!(lines.contains(&title.as_str()), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("open fds:") && l.contains("fds leaking +")),
        "{lines:?}"
    );
    assert!(lines.contains(&"memory: no leak") || lines.iter().any(|l| l.starts_with("memory:")));
}

#[test]
fn png_plot_decodes() {
    let _core = crate::busy_core();
    let scratch = Scratch::new("watch-plot-png");
    let fixture = WatchFixture::start("files", 400, &[]);
    let path = scratch.path().join("chart.png");
    plot(fixture.pid(), &path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    assert_eq!((image.width(), image.height()), (1200, 1400));
    // Not blank: lines and text were drawn on the white background.
    let rgb = image.to_rgb8();
    let ink = rgb.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(ink > 20_000, "{ink} drawn pixels");
}

#[test]
fn plot_needs_a_known_extension() {
    let output = afterlife()
        .args(["watch", "--duration", "1s", "--plot", "chart.jpg", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output),
        "afterlife: error: invalid --plot: chart.jpg must end in .svg or .png\n"
    );
}

#[test]
fn a_tree_plot_has_one_panel_per_metric_with_the_total_and_legends_beside() {
    let _core = crate::busy_core();
    let scratch = Scratch::new("watch-plot-tree");
    let path = scratch.path().join("tree.svg");
    // A shell with six children: more than a few processes.
    let mut tree = Command::new("sh")
        .args(["-c", "for i in 1 2 3 4 5 6; do sleep 3 & done; wait"])
        .spawn()
        .unwrap();
    // The watch walks the tree as it starts: the six children are there by
    // then, however loaded the machine is.
    let pid = tree.id() as i32;
    let all_there = common::wait_until(std::time::Duration::from_secs(10), || common::children(pid).len() == 6);
    assert!(all_there, "the shell did not start its six children");
    let output = afterlife()
        .args(["watch", "--interval", "50ms", "--duration", "1.5s", "--plot"])
        .arg(&path)
        .arg("--tree")
        .arg(tree.id().to_string())
        .output()
        .unwrap();
    let _ = tree.kill();
    let _ = tree.wait();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let parse = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as E\n\
root = E.parse(sys.argv[1]).getroot()\n\
for t in root.iter('{http://www.w3.org/2000/svg}text'):\n    print(t.get('x') + '\\t' + ' '.join(''.join(t.itertext()).split()))\n",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(parse.status.success(), "{}", String::from_utf8_lossy(&parse.stderr));
    let texts = String::from_utf8_lossy(&parse.stdout);
    let lines: Vec<(f64, &str)> = texts
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(x, text)| Some((x.parse().ok()?, text)))
        .collect();
    let text = |t: &str| lines.iter().filter(|l| l.1 == t).count();
    assert!(
        lines.iter().any(|l| l.1.starts_with("afterlife watch: 7 processes")),
        "{lines:?}"
    );
    // Four panels, each with the total in its legend.
    assert_eq!(text("tree total"), 4, "{lines:?}");
    for caption in [
        "open fds: no leak",
        "anonymous memory: no leak",
        "RSS: no leak",
        "threads: no leak",
    ] {
        assert_eq!(text(caption), 1, "{caption}: {lines:?}");
    }
    // The legends stand to the right of the data, not over it.
    for (x, _) in lines.iter().filter(|l| l.1 == "tree total") {
        assert!(*x > 850.0, "legend at x = {x}");
    }
}

/// A plot path that became a FIFO during the watch is refused when the
/// chart is written, not waited on for ever (it is checked at the start
/// too, as `man --dir` checks its pages).
#[test]
fn a_plot_path_made_a_fifo_during_the_watch_is_refused() {
    let scratch = Scratch::new("watch-plot-fifo");
    let path = scratch.path().join("chart.svg");
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let mut watch = afterlife()
        .args(["watch", "--interval", "100ms", "--duration", "1s", "--plot"])
        .arg(&path)
        .arg(sleeper.id().to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    scratch.fifo("chart.svg");
    let ended = common::wait_until(std::time::Duration::from_secs(15), || {
        watch.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = watch.kill();
    }
    let output = watch.wait_with_output().unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(ended, "the watch waited on the FIFO");
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("not a regular file"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
