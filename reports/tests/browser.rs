//! `report.html` in a real browser: headless Chromium driven over WebDriver.
//!
//! Renders a realistic report (see `browser/report.rs`), opens it from a
//! `file://` URL and checks what only a browser can tell: the page and its
//! charts render, planted script and images stay inert text, the filters of
//! the sample explorer work, the console has no errors, and the page makes no
//! request of any kind.
//!
//! Needs Chromium (`chromium`, `chromium-browser` or `google-chrome`) and
//! `chromedriver` on `PATH`, as `ci/install-browser` accepts them. Without them the
//! test prints a line and passes, unless `EVALKIT_REQUIRE_BROWSER` is set (as
//! in CI), where it fails.

#[path = "browser/report.rs"]
mod report;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use report::{Plan, BASELINE, CANDIDATE, SAMPLES, SCRIPT_PAYLOAD, UNIQUE_WORD};
use webdriver::Driver;

/// Names Chromium goes by on `PATH`.
const CHROMIUM: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
const CHROMEDRIVER: [&str; 1] = ["chromedriver"];

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium and its driver, when both are here; panics when they must be and are not.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let (chromium, driver) = (on_path(&CHROMIUM), on_path(&CHROMEDRIVER));
    if let (Some(chromium), Some(driver)) = (&chromium, &driver) {
        return Some((chromium.clone(), driver.clone()));
    }
    let missing: Vec<&str> = [(chromium.is_none(), "chromium"), (driver.is_none(), "chromedriver")]
        .into_iter()
        .filter_map(|(absent, name)| absent.then_some(name))
        .collect();
    if std::env::var_os("EVALKIT_REQUIRE_BROWSER").is_some() {
        panic!(
            "EVALKIT_REQUIRE_BROWSER is set but {} missing; install Chromium and its driver with \
             `apt-get install chromium chromium-driver`",
            missing.join(" and ")
        );
    }
    println!("skipping the browser test: {} not found (apt-get install chromium chromium-driver)", missing.join(", "));
    None
}

/// Where screenshots go: kept after the test for people to look at.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
    dir
}

fn visible_rows(driver: &Driver) -> u64 {
    let count = driver
        .execute(
            "var rows = document.querySelectorAll('#explorer tbody tr.sample');\
             var shown = Array.prototype.filter.call(rows, function (r) { return !r.hidden && r.offsetParent !== null; });\
             return [shown.length, Number(document.getElementById('shown').textContent)];",
        )
        .unwrap();
    assert_eq!(count[0], count[1], "the counter agrees with the rows shown");
    count[0].as_u64().unwrap()
}

/// Pick the option with this value in a `<select>`, by clicking it.
fn choose(driver: &Driver, select: &str, value: &str) {
    let index = driver
        .execute(&format!(
            "return Array.prototype.findIndex.call(document.querySelectorAll('{select} option'), \
             function (o) {{ return o.value === {}; }});",
            json!(value)
        ))
        .unwrap();
    let option = driver.find(&format!("{select} option:nth-child({})", index.as_u64().unwrap() + 1)).unwrap();
    // Clicking an option selects it (and fires `change`) without opening the list.
    driver.click(&option).unwrap();
}

fn save(name: &str, png: &[u8]) -> PathBuf {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
    let path = artifacts().join(name);
    std::fs::write(&path, png).expect("writing a screenshot");
    println!("screenshot: {}", path.display());
    path
}

#[test]
fn report_renders_safely_and_filters_in_a_browser() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    // Anything that fetches the planted URL would connect here.
    let trap = TcpListener::bind("127.0.0.1:0").expect("binding the trap listener");
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://127.0.0.1:{}/pwned.png", trap.local_addr().unwrap().port());

    let (results, records) = report::build(&trap_url);
    let html = evalkit_reports::render_html(&results, &records).expect("rendering");
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let profile = tempfile::tempdir().expect("a profile dir");

    let log = artifacts().join("chromedriver.log");
    let mut driver = Driver::start(&chromedriver, &log).expect("starting chromedriver");
    driver
        .new_session(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1400,1000",
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }))
        .expect("creating a browser session");

    driver.navigate(&format!("file://{}", page.display())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while driver.execute("return document.readyState;").unwrap() != "complete" {
        assert!(Instant::now() < deadline, "the page did not finish loading");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(driver.execute("return document.title;").unwrap(), "capitals-prompts · 20250301-100000-b10b · evalkit");

    // Screenshots: the top of the page and each part, for people to look at.
    save("report-top.png", &driver.screenshot().unwrap());
    save("report-full.png", &driver.full_page_screenshot().unwrap());
    for (name, css) in [
        ("summary", "#summary"),
        ("forest", "#fig-forest"),
        ("mean", ".fig-mean"),
        ("cost", "#fig-cost"),
        ("latency-percentiles", "#fig-latency-percentiles"),
        ("latency-distribution", "#fig-latency-distribution"),
        ("comparisons", "#comparisons-table"),
        ("gates", "#gates-table"),
        ("usage", "#usage-table"),
        ("explorer-evil-row", "#explorer tbody tr:nth-child(8)"),
        ("explorer", "#samples ~ .scroll"),
    ] {
        save(&format!("report-{name}.png"), &driver.region_screenshot(css).unwrap());
    }

    // The headline says who wins, with significance.
    let summary = driver.execute("return document.getElementById('summary').innerText;").unwrap();
    let summary = summary.as_str().unwrap();
    assert!(summary.contains(&format!("{CANDIDATE} ")), "{summary}");
    assert!(summary.contains("the cost per sample") && summary.contains("p50 latency"), "{summary}");
    assert!(summary.contains("Gates:"), "{summary}");

    // Every chart is drawn, visible and of non-zero size: the forest plot, a
    // mean chart per metric, cost against quality, two latency charts.
    let charts = driver
        .execute(
            "return Array.prototype.map.call(document.querySelectorAll('svg.chart'), function (svg) {\
               var box = svg.getBoundingClientRect(); var style = getComputedStyle(svg);\
               return [box.width, box.height, style.display !== 'none' && style.visibility !== 'hidden',\
                       svg.querySelectorAll('circle, polyline, line, rect, text').length,\
                       svg.namespaceURI];\
             });",
        )
        .unwrap();
    let charts = charts.as_array().unwrap();
    assert_eq!(charts.len(), 1 + results.metrics.len() + 3, "{charts:?}");
    for chart in charts {
        assert!(chart[0].as_f64().unwrap() > 100.0 && chart[1].as_f64().unwrap() > 40.0, "{chart}");
        assert_eq!(chart[2], true, "{chart}");
        assert!(chart[3].as_u64().unwrap() > 5, "the chart draws something: {chart}");
        assert_eq!(chart[4], "http://www.w3.org/2000/svg");
    }

    // The planted payloads stayed text.
    assert_eq!(driver.execute("return typeof window.__pwned;").unwrap(), "undefined");
    let text = driver.execute("return document.body.innerText;").unwrap();
    let text = text.as_str().unwrap();
    assert!(text.contains(SCRIPT_PAYLOAD), "the script shows as text");
    assert!(text.contains("<img src=http://127.0.0.1:9/x onerror=\"window.__pwned=2\">"), "the image shows as text");
    assert_eq!(driver.execute("return document.scripts.length;").unwrap(), 1, "only the report's own script");
    assert_eq!(driver.execute("return document.images.length;").unwrap(), 0);

    // Filters of the sample explorer.
    assert_eq!(visible_rows(&driver), SAMPLES as u64);
    let failures = driver.find("#f-failures").unwrap();
    driver.click(&failures).unwrap();
    assert_eq!(visible_rows(&driver), Plan::failures(None) as u64, "failures only");
    choose(&driver, "#f-variant", CANDIDATE);
    assert_eq!(visible_rows(&driver), Plan::failures(Some(CANDIDATE)) as u64, "failures of the candidate");
    let cells = driver
        .execute("return Array.prototype.filter.call(document.querySelectorAll('#explorer td.cell'), function (c) { return c.offsetParent !== null; }).length;")
        .unwrap();
    assert_eq!(cells, Plan::failures(Some(CANDIDATE)), "one variant's column is shown");
    choose(&driver, "#f-variant", "");
    driver.click(&failures).unwrap();
    assert_eq!(visible_rows(&driver), SAMPLES as u64);

    let search = driver.find("#f-text").unwrap();
    driver.send_keys(&search, UNIQUE_WORD).unwrap();
    assert_eq!(visible_rows(&driver), 1, "free-text search");
    driver.send_keys(&search, &"\u{E003}".repeat(UNIQUE_WORD.len())).unwrap(); // backspaces
    assert_eq!(visible_rows(&driver), SAMPLES as u64);
    driver.send_keys(&search, "q3").unwrap();
    assert_eq!(visible_rows(&driver), 6, "q30 … q35");
    driver.send_keys(&search, "\u{E003}\u{E003}").unwrap();

    choose(&driver, "#f-a", BASELINE);
    assert_eq!(visible_rows(&driver), SAMPLES as u64, "one side picked: no filter yet");
    choose(&driver, "#f-b", CANDIDATE);
    assert_eq!(visible_rows(&driver), Plan::changed() as u64, "verdict changed between the variants");
    choose(&driver, "#f-metric", "exact_match");
    assert_eq!(visible_rows(&driver), Plan::changed() as u64, "verdict changed on exact_match");
    let shown_scores = driver
        .execute("return Array.prototype.filter.call(document.querySelectorAll('#explorer li.score'), function (s) { return !s.hidden; }).map(function (s) { return s.dataset.metric; });")
        .unwrap();
    assert!(shown_scores.as_array().unwrap().iter().all(|m| m == "exact_match"), "only the picked metric's scores");
    driver.execute("document.getElementById('samples').scrollIntoView();").unwrap();
    save("report-filtered.png", &driver.screenshot().unwrap());
    choose(&driver, "#f-metric", "latency");
    assert_eq!(visible_rows(&driver), SAMPLES as u64, "latencies differ everywhere");

    // The word diff can be switched off.
    let deleted_visible = "return Array.prototype.filter.call(document.querySelectorAll('#explorer del'), function (d) { return d.offsetParent !== null; }).length;";
    assert!(driver.execute(deleted_visible).unwrap().as_u64().unwrap() > 0);
    driver.click(&driver.find("#f-diff").unwrap()).unwrap();
    assert_eq!(driver.execute(deleted_visible).unwrap(), 0);

    // No console errors.
    let log = driver.browser_log().expect("reading the browser console");
    let severe: Vec<&Value> = log.iter().filter(|entry| entry["level"] == "SEVERE").collect();
    assert!(severe.is_empty(), "console errors: {severe:#?}");
    // (The log does show errors: one logged now comes back.)
    driver.execute("console.error('evalkit-probe');").unwrap();
    let probe = driver.browser_log().unwrap();
    assert!(
        probe
            .iter()
            .any(|e| e["level"] == "SEVERE" && e["message"].as_str().is_some_and(|m| m.contains("evalkit-probe"))),
        "the console log does not report errors: {probe:?}"
    );

    // No requests: none recorded by the page, none reached the trap.
    assert_eq!(driver.execute("return performance.getEntriesByType('resource').length;").unwrap(), 0);
    std::thread::sleep(Duration::from_millis(300));
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("the page made a request ({from})"),
        Err(e) => panic!("checking the trap listener: {e}"),
    }
}
