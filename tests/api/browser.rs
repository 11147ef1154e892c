//! A real browser for the console's tests: Debian's `chromium`, headless, driven through its
//! `chromedriver` (WebDriver) with `fantoccini`. Both are installed by `tools/ensure-tools.sh`
//! when missing, like redis-server: the tests are never skipped.

use std::{
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};

use crate::helpers::{ensure_tools, free_port};

/// How long anything the console does may take (CI machines are shared and slow).
const PATIENCE: Duration = Duration::from_secs(30);

/// Chromium's narrowest desktop window; narrower screens are emulated.
const MIN_WINDOW_WIDTH: u32 = 500;

fn ensure_chromium() {
    static ENSURED: std::sync::Once = std::sync::Once::new();
    ENSURED.call_once(|| {
        ensure_tools(
            &[
                "chromium",
                "chromedriver=chromium-driver",
                // A font for the pages' text (a recommendation only, which the setup skips).
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf=fonts-dejavu-core",
            ],
            "apt-get install chromium chromium-driver fonts-dejavu-core",
        )
    });
}

/// A headless Chromium session; the driver is stopped when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where screenshots go.
    shots: PathBuf,
}

impl Browser {
    /// Start `chromedriver` on a free port and open a session with a `width` × `height`
    /// window; screenshots go to `target/tmp/<folder>/`.
    pub async fn start(folder: &str, width: u32, height: u32) -> Browser {
        ensure_chromium();
        let port = free_port();
        // A process group of its own, so that Chromium and every helper process it starts
        // go with it when the test ends, passed or not.
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let ready = Instant::now();
        loop {
            let status = reqwest::get(format!("{url}/status")).await;
            if status.is_ok_and(|s| s.status().is_success()) {
                break;
            }
            assert!(ready.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps",
            format!("--window-size={},{height}", width.max(MIN_WINDOW_WIDTH)),
        ]});
        if width < MIN_WINDOW_WIDTH {
            // A desktop window is never that narrow: emulate a phone's screen instead.
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1}});
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a chromium session opens");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            shots,
        }
    }

    /// Open `url`.
    pub async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// Save a screenshot as `<name>.png` in the test's folder; answers its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The first element matching `css`, once there is one and it is displayed.
    pub async fn shown(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "`{css}` was not shown; the page says:\n{}",
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Wait until the JavaScript expression `condition` is true in the page.
    pub async fn until(&self, condition: &str) {
        let started = Instant::now();
        loop {
            let value = self
                .client
                .execute(&format!("return Boolean({condition});"), vec![])
                .await
                .expect("the script runs");
            if value == Value::Bool(true) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "`{condition}` never held; the page says:\n{}",
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluate a JavaScript expression in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return {expression};"), vec![])
            .await
            .expect("the script runs")
    }

    /// Type `text` into the field matching `css`, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.shown(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Click the element matching `css` once it is shown.
    pub async fn click(&self, css: &str) {
        self.shown(css).await.click().await.unwrap();
    }

    /// Every URL the page has requested (the page itself and what it loaded or fetched).
    pub async fn requested(&self) -> Vec<String> {
        let names = self
            .eval("performance.getEntries().filter(e => e.entryType === 'navigation' || e.entryType === 'resource').map(e => e.name)")
            .await;
        names
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    }

    /// End the session, then the driver and whatever is left of the browser.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}
