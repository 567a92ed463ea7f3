//! A minimal WebDriver client for the browser test: ChromeDriver started on a
//! free loopback port, spoken to in HTTP/1.1 over `std::net::TcpStream` (one
//! connection per command, bodies framed by `Content-Length`), JSON through
//! serde_json. Just the commands the test needs.
//!
//! [`Driver`] owns the ChromeDriver process and the session: dropping it
//! quits the session and kills the process, whatever the test did.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver failure, with the command that caused it.
pub type Result<T> = std::result::Result<T, String>;

/// A running ChromeDriver with (after [`Driver::new_session`]) one session.
pub struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

/// A reference to an element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Driver {
    /// Start `chromedriver` on a free port and wait until it is ready.
    pub fn start(chromedriver: &Path, log: &Path) -> Result<Driver> {
        let port = free_port()?;
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", chromedriver.display()))?;
        let driver = Driver { child, port, session: None };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match driver.request("GET", "/status", None) {
                Ok(status) if status["ready"] == true => return Ok(driver),
                _ if Instant::now() > deadline => {
                    return Err(format!("chromedriver not ready after 30s (log: {})", log.display()))
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Open a browser session with these capabilities (`alwaysMatch`).
    pub fn new_session(&mut self, capabilities: Value) -> Result<()> {
        let created =
            self.request("POST", "/session", Some(json!({ "capabilities": { "alwaysMatch": capabilities } })))?;
        let id = created["sessionId"].as_str().ok_or_else(|| format!("no session id in {created}"))?;
        self.session = Some(id.to_owned());
        Ok(())
    }

    /// Send a command of the current session: `path` is relative to `/session/{id}`.
    pub fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let id = self.session.as_deref().ok_or("no session")?;
        self.request(method, &format!("/session/{id}{path}"), body)
    }

    pub fn navigate(&self, url: &str) -> Result<()> {
        self.command("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// Run `script` (a function body) in the page and return its value.
    pub fn execute(&self, script: &str) -> Result<Value> {
        self.command("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    pub fn find(&self, css: &str) -> Result<Element> {
        let found = self.command("POST", "/element", Some(json!({ "using": "css selector", "value": css })))?;
        found[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| format!("{css}: no element in {found}"))
    }

    pub fn click(&self, element: &Element) -> Result<()> {
        self.command("POST", &format!("/element/{}/click", element.0), Some(json!({}))).map(drop)
    }

    /// Type `text` into an element, as key presses.
    pub fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        self.command("POST", &format!("/element/{}/value", element.0), Some(json!({ "text": text }))).map(drop)
    }

    /// A screenshot of the viewport, as PNG bytes.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        let png = self.command("GET", "/screenshot", None)?;
        decode_base64(png.as_str().ok_or("screenshot is not a string")?)
    }

    /// A screenshot of the whole page, beyond the viewport, as PNG bytes.
    pub fn full_page_screenshot(&self) -> Result<Vec<u8>> {
        self.region_screenshot("html")
    }

    /// A screenshot of the element `css` selects, wherever it is on the page,
    /// as PNG bytes. Through the DevTools protocol, which ChromeDriver relays:
    /// WebDriver's element screenshot comes out empty for some elements
    /// taller than what is left of the viewport.
    pub fn region_screenshot(&self, css: &str) -> Result<Vec<u8>> {
        let rect = self.execute(&format!(
            "var box = document.querySelector({}).getBoundingClientRect();\
             return [box.left + window.scrollX, box.top + window.scrollY, box.width, box.height];",
            json!(css)
        ))?;
        let params = json!({
            "captureBeyondViewport": true,
            "clip": { "x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 1 },
        });
        let png = self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": "Page.captureScreenshot", "params": params })),
        )?;
        decode_base64(png["data"].as_str().ok_or_else(|| format!("no screenshot data in {png}"))?)
    }

    /// The browser console's entries so far (ChromeDriver's `se/log`, which
    /// needs `goog:loggingPrefs` `{browser: "ALL"}` in the capabilities).
    pub fn browser_log(&self) -> Result<Vec<Value>> {
        let log = self.command("POST", "/se/log", Some(json!({ "type": "browser" })))?;
        log.as_array().cloned().ok_or_else(|| format!("log is not a list: {log}"))
    }

    /// One HTTP exchange with ChromeDriver; the `value` of its JSON answer, or
    /// the WebDriver error it reports.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let what = format!("{method} {path}");
        let fail = |e: &dyn std::fmt::Display| format!("{what}: {e}");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| fail(&e))?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| fail(&e))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).map_err(|e| fail(&e))?;

        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).map_err(|e| fail(&e))?;
        let mut length = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(|e| fail(&e))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let mut bytes = Vec::new();
        match length {
            Some(n) => {
                bytes.resize(n, 0);
                reader.read_exact(&mut bytes).map_err(|e| fail(&e))?;
            }
            None => {
                reader.read_to_end(&mut bytes).map_err(|e| fail(&e))?;
            }
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| fail(&format!("{e} in {:?} ({})", String::from_utf8_lossy(&bytes), status.trim())))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        match value.get("error") {
            Some(error) => Err(fail(&format!("{error}: {}", value["message"]))),
            None => Ok(value),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.session.is_some() {
            let _ = self.command("DELETE", "", None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Decode standard base64 (with or without padding, whitespace ignored).
pub fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            other => return Err(format!("invalid base64 byte {other:#x}")),
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[test]
fn base64_decodes() {
    assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(decode_base64("aGVsbG8h").unwrap(), b"hello!");
    assert_eq!(decode_base64("aGk").unwrap(), b"hi");
    assert_eq!(decode_base64("").unwrap(), b"");
    assert!(decode_base64("a*").is_err());
}
