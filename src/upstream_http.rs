//! The HTTP client of connector calls: one `reqwest::Client` per thread that makes calls
//! ([`crate::per_thread`]), so an upstream request and the task driving its pooled connection
//! run on the same actix worker instead of waking the other one to send and to answer.

use std::{sync::Arc, time::Duration};

use anyhow::Context;

use crate::per_thread::PerThread;

/// The settings every connector call's client is built with. Retries are the resilience
/// layer's (`resilience`, per connector, with backoff): reqwest's own policy (HTTP/2 refusals
/// only) is off, which also spares every call the copy of its request kept for one.
fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .connect_timeout(Duration::from_secs(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("enrichd/", env!("CARGO_PKG_VERSION")))
}

/// Connector calls' HTTP clients (cheap to clone: all clones hand out the same clients).
#[derive(Clone)]
pub struct UpstreamHttp {
    inner: Arc<Inner>,
}

struct Inner {
    /// For callers outside a runtime, and for a thread whose own client could not be built.
    shared: reqwest::Client,
    per_thread: PerThread<reqwest::Client>,
}

impl UpstreamHttp {
    /// Fails if the client cannot be built (e.g. no TLS backend), here rather than on a call.
    pub fn new() -> anyhow::Result<UpstreamHttp> {
        let shared = builder()
            .build()
            .context("Failed to build the HTTP client")?;
        Ok(UpstreamHttp {
            inner: Arc::new(Inner {
                shared,
                per_thread: PerThread::new(),
            }),
        })
    }

    /// The client of the calling thread (connections in its pool are driven by its runtime).
    pub fn client(&self) -> reqwest::Client {
        match self.inner.per_thread.get_or_make(|| builder().build()) {
            Some(Ok(client)) => client,
            // Built once already with the same settings, so not expected; the shared one works.
            Some(Err(_)) | None => self.inner.shared.clone(),
        }
    }

    /// One client for work that is not on a request's path (health checks, trace export).
    pub fn shared(&self) -> reqwest::Client {
        self.inner.shared.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc,
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
        sync::oneshot,
    };

    use super::*;

    /// A keep-alive HTTP/1.1 server on loopback, on a thread of its own, that counts the
    /// connections it accepts and keeps the heads of the requests. Returns its URL, that count
    /// and those heads.
    fn counting_server() -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (bound, url) = mpsc::channel();
        let count = accepted.clone();
        let seen = heads.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound
                    .send(format!("http://{}/", listener.local_addr().unwrap()))
                    .unwrap();
                loop {
                    let (mut socket, _) = listener.accept().await.unwrap();
                    count.fetch_add(1, Ordering::SeqCst);
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while let Ok(n @ 1..) = socket.read(&mut buf).await {
                            request.extend_from_slice(&buf[..n]);
                            while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n")
                            {
                                let head = request.drain(..end + 4).collect::<Vec<u8>>();
                                seen.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&head).to_lowercase());
                                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if socket.write_all(answer).await.is_err() {
                                    return;
                                }
                            }
                        }
                    });
                }
            });
        });
        (url.recv().unwrap(), accepted, heads)
    }

    /// On a thread with a runtime of its own: `requests` calls, then (the runtime still
    /// running, so its connections stay served) a report, and the wait for `done`.
    fn caller(
        http: UpstreamHttp,
        url: String,
        requests: usize,
        done: oneshot::Receiver<()>,
    ) -> (std::thread::JoinHandle<()>, mpsc::Receiver<()>) {
        let (report, called) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                for _ in 0..requests {
                    let answer = http.client().get(&url).send().await.unwrap();
                    assert_eq!(answer.text().await.unwrap(), "ok");
                }
                report.send(()).unwrap();
                let _ = done.await;
            });
        });
        (thread, called)
    }

    #[test]
    fn each_thread_calls_over_connections_of_its_own_and_reuses_them() {
        let (url, accepted, _) = counting_server();
        let http = UpstreamHttp::new().unwrap();
        let (stop_first, first_done) = oneshot::channel();
        let (first, first_called) = caller(http.clone(), url.clone(), 3, first_done);
        first_called.recv().unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one thread reuses its connection"
        );
        // The first thread's runtime is still running and its connection goes back to its
        // pool once the dispatcher has seen the answer end (a task of that runtime): given
        // time for that, a shared client would hand it to the second thread (checked: with
        // `client()` returning the shared client this fails, one connection accepted).
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (stop_second, second_done) = oneshot::channel();
        let (second, second_called) = caller(http.clone(), url, 3, second_done);
        second_called.recv().unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the second thread opened a connection of its own and reused it"
        );
        stop_first.send(()).unwrap();
        stop_second.send(()).unwrap();
        first.join().unwrap();
        second.join().unwrap();
    }

    #[test]
    fn every_client_names_enrichd_as_its_user_agent() {
        let (url, _, heads) = counting_server();
        let http = UpstreamHttp::new().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for client in [http.client(), http.shared()] {
                client.get(&url).send().await.unwrap().text().await.unwrap();
            }
        });
        let heads = heads.lock().unwrap();
        assert_eq!(heads.len(), 2);
        let agent = concat!("user-agent: enrichd/", env!("CARGO_PKG_VERSION"));
        for head in heads.iter() {
            assert!(head.contains(agent), "{head}");
        }
    }
}
