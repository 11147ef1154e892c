//! How enrichd reaches Redis where platform teams run it (PRODUCT.md §13): over TLS
//! (`rediss://`, a CA file, a client certificate, an ACL user in the URL) against a real
//! `redis-server --tls-port` with certificates made here, and through Redis Sentinel against
//! real `redis-sentinel` processes, following a failover by itself.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use enrichd::redis_link::{RedisLink, RedisTarget, TlsFiles};
use serde_json::json;

use crate::helpers::{RedisServer, TestAppBuilder, eventually, free_port, known_subject};

/// PEM files of a CA, a server certificate for 127.0.0.1 signed by it, a client certificate
/// signed by it, and a second CA that signed nothing enrichd will see.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn generate() -> Certificates {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = std::env::temp_dir().join(format!("enrichd-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            (cert.pem(), Issuer::new(params, key))
        };
        let (ca_pem, issuer) = ca("enrichd test CA");
        let (wrong_pem, _) = ca("some other CA");
        write("ca.pem", ca_pem);
        write("wrong-ca.pem", wrong_pem);
        for (name, names) in [
            (
                "server",
                vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            ),
            ("client", vec!["enrichd".to_owned()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Certificates { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `cache.tls` keys (YAML flow) trusting `ca` and presenting the client certificate.
    fn cache_tls(&self, ca: &str) -> String {
        format!(
            "tls: {{ca_file: \"{}\", cert_file: \"{}\", key_file: \"{}\"}}",
            self.path(ca).display(),
            self.path("client.pem").display(),
            self.path("client.key").display()
        )
    }

    /// The redis crate's form, for the test's own connection.
    fn redis_crate(&self) -> redis::TlsCertificates {
        let read = |name: &str| std::fs::read(self.path(name)).unwrap();
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read("client.pem"),
                client_key: read("client.key"),
            }),
            root_cert: Some(read("ca.pem")),
        }
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `program` with the configuration file `config` (written to `dir`).
fn start(program: &str, dir: &Path, name: &str, config: &str) -> Process {
    crate::helpers::ensure_redis();
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    let child = Command::new(program)
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "{program} must be installed (apt-get install redis-server redis-sentinel): {err}"
            )
        });
    Process(child)
}

/// Wait until `check` holds, at most `within`.
fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TLS-only `redis-server` that asks for client certificates and knows one ACL user,
/// `enrichd`/`s3cret` (the default user is off).
fn tls_redis(certs: &Certificates) -> (Process, u16) {
    let port = free_port();
    let config = format!(
        "port 0\ntls-port {port}\nbind 127.0.0.1\ntls-cert-file {}\ntls-key-file {}\n\
         tls-ca-cert-file {}\ntls-auth-clients yes\nsave \"\"\nappendonly no\n\
         user default off\nuser enrichd on >s3cret ~* &* +@all\n",
        certs.path("server.pem").display(),
        certs.path("server.key").display(),
        certs.path("ca.pem").display(),
    );
    let process = start("redis-server", &certs.dir, "redis-tls.conf", &config);
    let client = redis::Client::build_with_tls(
        format!("rediss://enrichd:s3cret@127.0.0.1:{port}/0"),
        certs.redis_crate(),
    )
    .unwrap();
    wait_for("the TLS redis-server", Duration::from_secs(10), || {
        client
            .get_connection()
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    });
    (process, port)
}

/// The connections of `RedisServer` other than the one asking.
fn other_clients(redis: &RedisServer) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut redis.connection())
        .unwrap();
    list.lines().count() - 1
}

/// A single Redis is reached through one connection per thread that sends it commands (a
/// command and the task driving its connection share a runtime): commands from every worker
/// of a runtime succeed on at most one connection per worker, and a thread whose runtime was
/// replaced gets a working connection on the new runtime, not the dead one of the old.
#[test]
fn a_single_redis_gets_one_connection_per_thread_and_a_replaced_runtime_a_new_one() {
    let redis = RedisServer::start();
    let target = RedisTarget::Single(redis.url());
    let link = RedisLink::open(&target, &TlsFiles::default(), Duration::from_secs(2)).unwrap();
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    workers.block_on(async {
        let sends: Vec<_> = (0..200)
            .map(|_| {
                let link = link.clone();
                tokio::spawn(async move {
                    let mut incr = redis::cmd("INCR");
                    incr.arg("sent");
                    link.run::<i64>(&incr).await
                })
            })
            .collect();
        for send in sends {
            send.await.unwrap().unwrap();
        }
    });
    let connections = other_clients(&redis);
    assert!(
        (1..=2).contains(&connections),
        "{connections} connections for 2 workers"
    );
    drop(workers);

    for round in 1..=3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sent: i64 = runtime
            .block_on(async {
                let mut incr = redis::cmd("INCR");
                incr.arg("sent");
                link.run(&incr).await
            })
            .unwrap_or_else(|error| panic!("runtime {round} on this thread: {error}"));
        assert_eq!(sent, 200 + round);
    }
    assert_eq!(link.failure(), None);
}

#[tokio::test]
async fn enrichd_speaks_tls_to_redis_with_a_ca_file_a_client_certificate_and_an_acl_user() {
    let certs = Certificates::generate();
    let (_redis, port) = tls_redis(&certs);
    let url = format!("rediss://enrichd:s3cret@127.0.0.1:{port}/0");
    let app = TestAppBuilder::new()
        .redis_url(&url)
        .cache(&certs.cache_tls("ca.pem"))
        .spawn()
        .await;

    let answer = app.enrich(known_subject("tls-1")).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(app.get("/readyz").await.body["checks"]["cache"], "ok");
    let mut redis = redis::Client::build_with_tls(url.as_str(), certs.redis_crate())
        .unwrap()
        .get_connection()
        .unwrap();
    let key = app.profile_key("tls-1");
    let mut found = false;
    for _ in 0..100 {
        found = redis::cmd("EXISTS").arg(&key).query(&mut redis).unwrap();
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the profile reached the TLS Redis");
    // The password is a secret: not in the connector listing, not in readiness.
    let shown = format!(
        "{}{}",
        app.get("/readyz").await.body,
        app.get("/v1/connectors").await.body
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_a_clear_error_not_a_hang() {
    let certs = Certificates::generate();
    let (_redis, port) = tls_redis(&certs);
    let app = TestAppBuilder::new()
        .redis_url(&format!("rediss://enrichd:s3cret@127.0.0.1:{port}/0"))
        .cache(&certs.cache_tls("wrong-ca.pem"))
        .spawn()
        .await;

    let started = Instant::now();
    let answer = app.enrich(known_subject("tls-2")).await;
    let again = app.enrich(known_subject("tls-3")).await;

    assert_eq!(answer.status, 200, "served without Redis: {}", answer.body);
    assert_eq!(again.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let ready = app.get("/readyz").await.body;
    assert_eq!(ready["status"], "degraded", "{ready}");
    // The last failure is shown; on a loaded machine an attempt may time out before the
    // handshake fails, so the next attempts are given a few seconds to say why.
    eventually("readiness names the certificate", async || {
        let ready = app.get("/readyz").await.body;
        let error = ready["checks"]["cache_error"].as_str().unwrap_or_default();
        assert!(!error.contains("s3cret"), "{error}");
        error.contains("certificate") || error.contains("UnknownIssuer")
    })
    .await;
}

/// One master, one replica and three sentinels (quorum 2) on loopback.
struct SentinelSetup {
    master: Option<Process>,
    master_port: u16,
    replica_port: u16,
    sentinel_ports: Vec<u16>,
    _replica: Process,
    _sentinels: Vec<Process>,
    dir: PathBuf,
}

impl SentinelSetup {
    fn start() -> SentinelSetup {
        let dir = std::env::temp_dir().join(format!("enrichd-sentinel-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let master_port = free_port();
        let replica_port = free_port();
        let plain = "bind 127.0.0.1\nsave \"\"\nappendonly no\n";
        let master = start(
            "redis-server",
            &dir,
            "master.conf",
            &format!("port {master_port}\n{plain}"),
        );
        let replica = start(
            "redis-server",
            &dir,
            "replica.conf",
            &format!("port {replica_port}\n{plain}replicaof 127.0.0.1 {master_port}\n"),
        );
        let role = |port: u16| -> Option<String> {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
            let mut connection = client.get_connection().ok()?;
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut connection)
                .ok()?;
            Some(info)
        };
        wait_for("the replica to sync", Duration::from_secs(15), || {
            role(replica_port).is_some_and(|info| info.contains("master_link_status:up"))
        });
        let sentinel_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let sentinels = sentinel_ports
            .iter()
            .map(|port| {
                start(
                    "redis-sentinel",
                    &dir,
                    &format!("sentinel-{port}.conf"),
                    &format!(
                        "port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds mymaster 1000\n\
                         sentinel failover-timeout mymaster 5000\nsentinel parallel-syncs mymaster 1\n"
                    ),
                )
            })
            .collect();
        let setup = SentinelSetup {
            master: Some(master),
            master_port,
            replica_port,
            sentinel_ports,
            _replica: replica,
            _sentinels: sentinels,
            dir,
        };
        wait_for(
            "the sentinels to see the replica and each other",
            Duration::from_secs(20),
            || {
                setup.sentinel_ports.iter().all(|port| {
                    setup
                        .ask_sentinel(*port, &["SENTINEL", "MASTER", "mymaster"])
                        .is_some_and(|info| {
                            info.contains("num-slaves\n1")
                                && info.contains("num-other-sentinels\n2")
                        })
                })
            },
        );
        setup
    }

    /// A sentinel's answer, flattened to lines.
    fn ask_sentinel(&self, port: u16, args: &[&str]) -> Option<String> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
        let mut connection = client.get_connection().ok()?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        let value: redis::Value = command.query(&mut connection).ok()?;
        Some(flatten(&value))
    }

    /// The master's port as the first sentinel says.
    fn master_port_now(&self) -> Option<u16> {
        let answer = self.ask_sentinel(
            self.sentinel_ports[0],
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        )?;
        answer.lines().nth(1)?.parse().ok()
    }

    fn nodes_yaml(&self) -> String {
        let nodes: Vec<String> = self
            .sentinel_ports
            .iter()
            .map(|p| format!("\"redis://127.0.0.1:{p}\""))
            .collect();
        format!(
            "redis_sentinel: {{master_name: mymaster, nodes: [{}]}}, timeout_ms: 300",
            nodes.join(", ")
        )
    }
}

impl Drop for SentinelSetup {
    fn drop(&mut self) {
        self.master.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn flatten(value: &redis::Value) -> String {
    match value {
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().map(flatten).collect::<Vec<_>>().join("\n")
        }
        redis::Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{}\n{}", flatten(k), flatten(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(text) => text.clone(),
        redis::Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn enrichd_follows_a_sentinel_failover_by_itself() {
    let mut setup = SentinelSetup::start();
    let app = TestAppBuilder::new()
        .without_redis()
        .cache(&setup.nodes_yaml())
        .spawn()
        .await;
    let exists = |port: u16, key: &str| -> bool {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("EXISTS").arg(key).query(&mut c))
            .unwrap_or(false)
    };
    let before = app.enrich(known_subject("sent-0")).await;
    assert_eq!(before.status, 200, "{}", before.body);
    let key = app.profile_key("sent-0");
    eventually("the profile reaching the master", async || {
        exists(setup.master_port, &key)
    })
    .await;

    // Kill the master; keep enriching through the failover.
    setup.master.take();
    let started = Instant::now();
    let mut answered = 0;
    let mut failed = 0;
    let mut promoted_after = None;
    let mut i = 1;
    while started.elapsed() < Duration::from_secs(30) {
        let answer = app
            .enrich(json!({"user_id": format!("sent-{i}"), "email": "bcooper@biglytics.net"}))
            .await;
        if answer.status == 200 {
            answered += 1;
        } else {
            failed += 1;
        }
        i += 1;
        if promoted_after.is_none() && setup.master_port_now() == Some(setup.replica_port) {
            promoted_after = Some(started.elapsed());
        }
        if let Some(at) = promoted_after
            && started.elapsed() > at + Duration::from_secs(6)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let promoted_after = promoted_after.expect("Sentinel promoted the replica");
    println!(
        "failover: promoted after {promoted_after:?}; {answered} requests answered 200, {failed} failed"
    );

    assert_eq!(failed, 0, "requests failed during the failover");
    // Writes go to the new master by themselves.
    let after = app
        .enrich(json!({"user_id": "sent-after", "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(after.status, 200);
    let key = app.profile_key("sent-after");
    eventually("the profile reaching the new master", async || {
        exists(setup.replica_port, &key)
    })
    .await;
    assert_eq!(app.get("/readyz").await.body["checks"]["cache"], "ok");
    assert_eq!(app.delete_profile("sent-after").await.status, 204);
    assert!(!exists(setup.replica_port, &key));
}
