//! A real browser for the tests: Debian's `chromium`, headless, driven over WebDriver by
//! `chromedriver` (each [`Browser`] starts its own driver on a free loopback port, with its own
//! empty profile, so two browsers are two people with separate cookies).
//!
//! Where the programs are: `CHROMEDRIVER` and `CHROMIUM`, else `/usr/bin/chromedriver` and
//! `/usr/bin/chromium` (`apt-get install -y chromium chromium-driver`; `.ci/run` installs them).
//! Without them the suite fails and says so, unless `TIANGUIS_BROWSER_TESTS=skip` asks to skip
//! it (then each test prints that it was skipped).
//!
//! Screenshots go to `TIANGUIS_SCREENSHOTS`, else `target/screenshots` of the workspace.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// One person's browser.
pub struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
    who: &'static str,
}

fn program(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// The directory screenshots are written to.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("TIANGUIS_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"))
}

/// Whether the browser tests are skipped: asked to be (`TIANGUIS_BROWSER_TESTS=skip`), or
/// Chromium and chromedriver are not installed (one line says so, unless `TIANGUIS_ALL_SUITES=1`
/// makes them mandatory; see [`harness::optional`]).
pub fn skipped() -> bool {
    if std::env::var("TIANGUIS_BROWSER_TESTS").as_deref() == Ok("skip") {
        eprintln!("browser test skipped: TIANGUIS_BROWSER_TESTS=skip");
        return true;
    }
    let installed = program("CHROMEDRIVER", "/usr/bin/chromedriver").is_some()
        && program("CHROMIUM", "/usr/bin/chromium").is_some();
    harness::optional::skip_without(
        "Chromium and chromedriver",
        installed,
        "apt-get install -y chromium chromium-driver (or set CHROMIUM and CHROMEDRIVER)",
    )
}

impl Browser {
    /// Start a browser for `who` (the name prefixes its screenshots), `width`×`height` CSS
    /// pixels.
    pub async fn start(who: &'static str, width: u32, height: u32) -> Browser {
        let (Some(driver), Some(chromium)) = (
            program("CHROMEDRIVER", "/usr/bin/chromedriver"),
            program("CHROMIUM", "/usr/bin/chromium"),
        ) else {
            panic!(
                "the browser tests need chromium and chromedriver \
                 (apt-get install -y chromium chromium-driver, or set CHROMIUM and CHROMEDRIVER); \
                 TIANGUIS_BROWSER_TESTS=skip skips them"
            );
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        // The driver is on plain http, but the client's TLS setup still wants a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let mut builder = ClientBuilder::rustls().expect("a TLS setup for the driver client");
            builder.capabilities(caps.clone());
            match builder.connect(&url).await {
                Ok(client) => break client,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    // The driver is still starting.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver on {url} gave no browser: {e}"),
            }
        };
        client
            .set_window_size(width, height)
            .await
            .expect("sizing the window");
        Browser {
            client,
            _driver: child,
            _profile: profile,
            who,
        }
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Open `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// The current address.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("reading the URL")
    }

    /// The element `css` selects (waiting for it to appear).
    pub async fn find(&self, css: &str) -> Element {
        match tokio::time::timeout(PATIENCE, self.client.wait().for_element(Locator::Css(css)))
            .await
        {
            Ok(Ok(element)) => element,
            _ => panic!(
                "no element {css} on {}:\n{}",
                self.url().await,
                self.text().await
            ),
        }
    }

    /// Type `value` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clearing a field");
        field.send_keys(value).await.expect("typing");
    }

    /// Click the element `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("clicking");
    }

    /// Click the link whose text is `text`, as a person reading the page would.
    pub async fn click_link(&self, text: &str) {
        match self.client.find(Locator::LinkText(text)).await {
            Ok(link) => link.click().await.expect("following a link"),
            Err(_) => panic!(
                "no link {text:?} on {}:\n{}",
                self.url().await,
                self.text().await
            ),
        }
    }

    /// Click the button whose text starts with `text`.
    pub async fn press(&self, text: &str) {
        let xpath = format!(
            "//button[starts-with(normalize-space(.), {})]",
            xpath_literal(text)
        );
        match self.client.find(Locator::XPath(&xpath)).await {
            Ok(button) => button.click().await.expect("pressing a button"),
            Err(_) => panic!(
                "no button {text:?} on {}:\n{}",
                self.url().await,
                self.text().await
            ),
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Wait until the page shows `needle`, reloading it while it does not (another node's
    /// answer arrives in the background).
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.text().await.contains(needle) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never showed {needle:?}:\n{}",
                self.url().await,
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
            self.client.refresh().await.expect("reloading");
        }
    }

    /// Write a screenshot of the viewport as `{who}-{name}.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}-{name}.png", self.who));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Run `script` in the page and return its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("running a script in the page")
    }

    /// The page's accessibility basics, checked in the rendered page: a language, a title,
    /// one `h1`, every form control labelled, every image with an `alt` (empty for
    /// decoration), no positive `tabindex`, no link or button without text, the stylesheet
    /// applied and no inline style or script (the CSP would drop them), and nothing wider than
    /// the window (no sideways scrolling on a phone). Panics listing what fails.
    pub async fn audit(&self) {
        let problems = self
            .eval(
                r#"
const problems = [];
if (!document.documentElement.lang) problems.push('no lang on <html>');
if (!document.title.trim()) problems.push('no <title>');
const h1 = document.querySelectorAll('h1').length;
if (h1 !== 1) problems.push(h1 + ' h1 elements');
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby') || el.title;
  if (!named) problems.push('unlabelled ' + el.tagName.toLowerCase() + ' ' + (el.name || el.id));
}
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) problems.push('image without alt: ' + img.src);
}
for (const el of document.querySelectorAll('[tabindex]')) {
  if (el.tabIndex > 0) problems.push('positive tabindex on ' + el.tagName);
}
for (const b of document.querySelectorAll('button, a[href]')) {
  if (!b.textContent.trim() && !b.getAttribute('aria-label') && !b.querySelector('img[alt]:not([alt=""])'))
    problems.push('a ' + b.tagName.toLowerCase() + ' with no text');
}
// The Content-Security-Policy allows no script and no inline style: any would be dropped.
for (const el of document.querySelectorAll('style, script, [style]')) {
  problems.push('inline ' + el.tagName.toLowerCase() + ' (blocked by the CSP)');
}
if (getComputedStyle(document.body).backgroundColor !== 'rgb(255, 253, 250)')
  problems.push('the stylesheet did not apply');
const wide = document.documentElement.scrollWidth - window.innerWidth;
if (wide > 1) {
  let worst = null;
  for (const el of document.querySelectorAll('body *')) {
    const right = el.getBoundingClientRect().right;
    if (right > window.innerWidth + 1 && (!worst || right > worst.right))
      worst = { right, what: el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') };
  }
  problems.push('the page is ' + wide + ' px wider than the window'
    + (worst ? ' (' + worst.what + ' reaches ' + Math.round(worst.right) + ' px)' : ''));
}
return problems;
"#,
            )
            .await;
        let problems: Vec<String> = serde_json::from_value(problems).unwrap_or_default();
        assert!(
            problems.is_empty(),
            "accessibility problems on {}: {problems:#?}",
            self.url().await
        );
    }

    /// Move focus with the Tab key until `css` has it (at most `max` presses): the element is
    /// reachable from the keyboard.
    pub async fn tab_to(&self, css: &str, max: usize) {
        let target = self.find(css).await;
        for _ in 0..=max {
            let active = self
                .client
                .active_element()
                .await
                .expect("the focused element");
            if active.element_id() == target.element_id() {
                return;
            }
            active.send_keys("\u{e004}").await.expect("pressing Tab");
        }
        panic!("{css} is not reached by {max} presses of Tab");
    }

    /// Close the browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// `s` as an XPath string literal.
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
