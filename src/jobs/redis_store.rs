//! Jobs in Redis: the work of every job is one Stream (`<prefix>jobs`, entries `w =
//! <job>:<index>`, nothing about a user) read by one consumer group; each job's keys share a
//! hash tag (`<prefix>job:{<id>}:meta|input|results|webhook`), so that recording a result
//! is one script: written once (a reclaimed subject already recorded is not counted again),
//! counted, and the job completed with its last subject. Inputs and results are sealed when
//! encryption at rest is on; all of a job's keys expire `jobs.retention_seconds` after it was
//! created (a user's index of job subjects, with the last job naming them).

use std::{collections::HashMap, sync::Mutex};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use redis::{
    Script,
    streams::{StreamAutoClaimReply, StreamId, StreamInfoConsumersReply, StreamReadReply},
};

use super::{
    LISTED,
    model::{Item, Meta, NewJob, Outcome, Recorded, erased_line, now_ms},
};
use crate::{
    domain::UserKey,
    keys::{JOB_WORKERS, Keys},
    redis_link::{RedisError, RedisLink},
    sealing::Sealer,
};

/// What a sealed webhook URL starts with in a job's description (then base64).
const SEALED_URL: &str = "sealed:";

/// Commands per pipeline when a job is written.
const CHUNK: usize = 500;

/// Record one subject's result, once: `0` not recorded (the job is over, gone, or the subject
/// was recorded before), `1` recorded, `2` recorded and the job completed with it. A subject
/// whose input an erasure removed meanwhile is recorded as the erased line.
const RECORD: &str = r"
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
local line, outcome = ARGV[2], ARGV[3]
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then
  line = ARGV[6]
  outcome = 'failed'
end
redis.call('HSET', KEYS[3], ARGV[1], line)
redis.call('PEXPIREAT', KEYS[3], ARGV[5])
redis.call('HINCRBY', KEYS[1], outcome, 1)
local done = redis.call('HINCRBY', KEYS[1], 'done', 1)
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running')
  redis.call('HSETNX', KEYS[1], 'started_at', ARGV[4])
end
if done >= tonumber(redis.call('HGET', KEYS[1], 'total')) then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'finished_at', ARGV[4])
  return 2
end
return 1
";

/// Mark a queued job running (its first subject begins).
const START: &str = r"
if redis.call('HGET', KEYS[1], 'status') == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running')
  redis.call('HSETNX', KEYS[1], 'started_at', ARGV[1])
end
return 1
";

/// Cancel an open job: `1` cancelled now, `0` it was over (or is gone). The inputs of the
/// subjects not recorded go at once.
const CANCEL: &str = r"
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
";

/// Erase a user's subjects of one job: inputs removed, results replaced by erased lines
/// (`ARGV`: index, line, index, line...).
const ERASE: &str = r"
for i = 1, #ARGV, 2 do
  redis.call('HDEL', KEYS[1], ARGV[i])
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
return 1
";

pub struct RedisJobs {
    link: RedisLink,
    keys: Keys,
    sealer: Sealer,
    /// This replica's name in the consumer group.
    consumer: String,
    retention_seconds: u64,
    claim_idle_ms: u64,
    /// Where the next `XAUTOCLAIM` scan starts.
    claim_cursor: Mutex<String>,
    record: Script,
    start: Script,
    cancel: Script,
    erase: Script,
}

impl RedisJobs {
    pub fn new(
        link: RedisLink,
        keys: Keys,
        sealer: Sealer,
        retention_seconds: u64,
        claim_idle_ms: u64,
    ) -> RedisJobs {
        RedisJobs {
            link,
            keys,
            sealer,
            consumer: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            retention_seconds,
            claim_idle_ms,
            claim_cursor: Mutex::new("0-0".into()),
            record: Script::new(RECORD),
            start: Script::new(START),
            cancel: Script::new(CANCEL),
            erase: Script::new(ERASE),
        }
    }

    fn sealed(&self, key: &str, index: u64, plain: &[u8]) -> Vec<u8> {
        self.sealer
            .seal(&format!("{key}/{index}"), plain)
            .into_owned()
    }

    fn opened(&self, key: &str, index: u64, stored: Vec<u8>) -> Option<Bytes> {
        self.sealer
            .open(&format!("{key}/{index}"), stored)
            .map(Bytes::from)
    }

    /// Subjects waiting over every job (entries are deleted once recorded).
    pub async fn depth(&self) -> Result<u64, RedisError> {
        self.link
            .run(redis::cmd("XLEN").arg(self.keys.jobs()))
            .await
    }

    /// Jobs queued or running.
    pub async fn active(&self) -> Result<u64, RedisError> {
        self.link
            .run(redis::cmd("SCARD").arg(self.keys.jobs_active()))
            .await
    }

    /// Store a new job, then its work on the stream.
    pub async fn create(&self, job: &NewJob<'_>) -> Result<(), RedisError> {
        let meta = job.meta;
        let written = self.write_job(job).await;
        if written.is_err() {
            // Nothing half-made stays: workers skip entries of a job without its description.
            let mut pipe = redis::pipe();
            for part in ["meta", "input", "results"] {
                pipe.cmd("DEL").arg(self.keys.job(&meta.id, part)).ignore();
            }
            let _ = self.link.run::<()>(&pipe).await;
        }
        written
    }

    async fn write_job(&self, job: &NewJob<'_>) -> Result<(), RedisError> {
        let NewJob {
            meta,
            inputs,
            decided,
            users,
        } = *job;
        let at = meta.created_at + self.retention_seconds * 1000;
        let (input, results) = (
            self.keys.job(&meta.id, "input"),
            self.keys.job(&meta.id, "results"),
        );
        for (key, lines) in [(&input, inputs), (&results, decided)] {
            for chunk in lines.chunks(CHUNK) {
                let mut pipe = redis::pipe();
                let mut hset = redis::cmd("HSET");
                hset.arg(key);
                for (index, line) in chunk {
                    hset.arg(index).arg(self.sealed(key, *index, line));
                }
                pipe.add_command(hset).ignore();
                pipe.cmd("PEXPIREAT").arg(key).arg(at).ignore();
                self.link.run::<()>(&pipe).await?;
            }
        }
        for chunk in users.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for (user, index) in chunk {
                let key = self.keys.user_jobs(user);
                pipe.cmd("SADD")
                    .arg(&key)
                    .arg(format!("{}:{index}", meta.id))
                    .ignore();
                // As long as the last job naming the user is kept.
                pipe.cmd("PEXPIREAT").arg(&key).arg(at).arg("NX").ignore();
                pipe.cmd("PEXPIREAT").arg(&key).arg(at).arg("GT").ignore();
            }
            self.link.run::<()>(&pipe).await?;
        }
        let meta_key = self.keys.job(&meta.id, "meta");
        let mut pipe = redis::pipe();
        let mut hset = redis::cmd("HSET");
        hset.arg(&meta_key);
        for (field, value) in meta.fields() {
            if field == "webhook" && self.sealer.is_on() {
                // The URL may carry the receiver's token.
                let sealed = self
                    .sealer
                    .seal(&format!("{meta_key}/webhook"), value.as_bytes());
                hset.arg(field)
                    .arg(format!("{SEALED_URL}{}", BASE64.encode(sealed)));
            } else {
                hset.arg(field).arg(value);
            }
        }
        pipe.add_command(hset).ignore();
        pipe.cmd("PEXPIREAT").arg(&meta_key).arg(at).ignore();
        self.link.run::<()>(&pipe).await?;
        self.list(meta, at).await?;
        if meta.status.is_open() {
            self.link
                .run::<()>(
                    redis::cmd("SADD")
                        .arg(self.keys.jobs_active())
                        .arg(&meta.id),
                )
                .await?;
            self.ensure_group().await?;
        }
        let stream = self.keys.jobs();
        for chunk in inputs.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for (index, _) in chunk {
                pipe.cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("w")
                    .arg(format!("{}:{index}", meta.id))
                    .ignore();
            }
            self.link.run::<()>(&pipe).await?;
        }
        Ok(())
    }

    /// Create the consumer group (and the stream) unless it exists.
    pub async fn ensure_group(&self) -> Result<(), RedisError> {
        let mut create = redis::cmd("XGROUP");
        create
            .arg("CREATE")
            .arg(self.keys.jobs())
            .arg(JOB_WORKERS)
            .arg("0")
            .arg("MKSTREAM");
        match self.link.run::<()>(&create).await {
            Err(RedisError::Command(err)) if err.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Up to `count` subjects no replica has taken yet.
    pub async fn fetch(&self, count: usize) -> Result<Vec<Item>, RedisError> {
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(JOB_WORKERS)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(self.keys.jobs())
            .arg(">");
        let reply: Option<StreamReadReply> = match self.link.run(&read).await {
            // No job was ever submitted (a submission creates the stream and the group).
            Err(RedisError::Command(err)) if err.code() == Some("NOGROUP") => {
                return Ok(Vec::new());
            }
            other => other?,
        };
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .filter_map(item_of)
            .collect())
    }

    /// Up to `count` subjects another replica took more than `jobs.claim_idle_ms` ago and has
    /// not recorded (it died, or stalled): taken over by this one.
    pub async fn reclaim(&self, count: usize) -> Result<Vec<Item>, RedisError> {
        let cursor = self
            .claim_cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut claim = redis::cmd("XAUTOCLAIM");
        claim
            .arg(self.keys.jobs())
            .arg(JOB_WORKERS)
            .arg(&self.consumer)
            .arg(self.claim_idle_ms)
            .arg(&cursor)
            .arg("COUNT")
            .arg(count);
        let reply: StreamAutoClaimReply = match self.link.run(&claim).await {
            Err(RedisError::Command(err)) if err.code() == Some("NOGROUP") => {
                return Ok(Vec::new());
            }
            other => other?,
        };
        *self.claim_cursor.lock().unwrap_or_else(|p| p.into_inner()) = reply.next_stream_id;
        Ok(reply.claimed.into_iter().filter_map(item_of).collect())
    }

    /// The subject stored at `index` (`None` once recorded, erased, or the job is gone).
    pub async fn input(&self, job: &str, index: u64) -> Result<Option<Bytes>, RedisError> {
        let key = self.keys.job(job, "input");
        let stored: Option<Vec<u8>> = self
            .link
            .run(redis::cmd("HGET").arg(&key).arg(index))
            .await?;
        Ok(stored.and_then(|s| self.opened(&key, index, s)))
    }

    /// Add a job to its tenant's list, which keeps the newest [`LISTED`] and lives as long
    /// as the newest job.
    async fn list(&self, meta: &Meta, expires_at: u64) -> Result<(), RedisError> {
        let key = self.keys.tenant_jobs(meta.tenant.as_str());
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(&key)
            .arg(meta.created_at)
            .arg(&meta.id)
            .ignore();
        pipe.cmd("ZREMRANGEBYRANK")
            .arg(&key)
            .arg(0)
            .arg(-(LISTED as i64) - 1)
            .ignore();
        pipe.cmd("PEXPIREAT").arg(&key).arg(expires_at).ignore();
        self.link.run(&pipe).await
    }

    /// The newest `limit` jobs of `tenant` still kept, newest first.
    pub async fn recent(&self, tenant: &str, limit: usize) -> Result<Vec<Meta>, RedisError> {
        let key = self.keys.tenant_jobs(tenant);
        let oldest_kept = now_ms().saturating_sub(self.retention_seconds * 1000);
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(format!("({oldest_kept}"))
            .ignore();
        pipe.cmd("ZREVRANGE").arg(&key).arg(0).arg(limit.max(1) - 1);
        let (ids,): (Vec<String>,) = self.link.run(&pipe).await?;
        let metas = futures_util::future::try_join_all(ids.iter().map(|id| self.meta(id))).await?;
        Ok(metas.into_iter().flatten().collect())
    }

    pub async fn meta(&self, job: &str) -> Result<Option<Meta>, RedisError> {
        let key = self.keys.job(job, "meta");
        let mut fields: HashMap<String, String> =
            self.link.run(redis::cmd("HGETALL").arg(&key)).await?;
        if let Some(sealed) = fields
            .get("webhook")
            .and_then(|w| w.strip_prefix(SEALED_URL))
        {
            let url = BASE64
                .decode(sealed)
                .ok()
                .and_then(|s| self.sealer.open(&format!("{key}/webhook"), s))
                .and_then(|url| String::from_utf8(url).ok());
            match url {
                Some(url) => fields.insert("webhook".into(), url),
                None => fields.remove("webhook"),
            };
        }
        Ok(Meta::from_fields(job, &fields))
    }

    /// Take the jobs that are over, or gone, off the active set (left there by a replica
    /// that stopped between completing a job and saying so).
    pub async fn tidy_active(&self) -> Result<(), RedisError> {
        let ids: Vec<String> = self
            .link
            .run(redis::cmd("SMEMBERS").arg(self.keys.jobs_active()))
            .await?;
        for id in ids {
            if !self.meta(&id).await?.is_some_and(|m| m.status.is_open()) {
                self.link
                    .run::<()>(redis::cmd("SREM").arg(self.keys.jobs_active()).arg(&id))
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn start(&self, job: &str, now: u64) -> Result<(), RedisError> {
        let mut invocation = self.start.key(self.keys.job(job, "meta"));
        invocation.arg(now);
        self.link.script::<i64>(invocation).await.map(drop)
    }

    pub async fn record(
        &self,
        job: &str,
        index: u64,
        line: &[u8],
        outcome: Outcome,
        now: u64,
        expires_at: u64,
    ) -> Result<Recorded, RedisError> {
        let results = self.keys.job(job, "results");
        let mut invocation = self.record.key(self.keys.job(job, "meta"));
        invocation
            .key(self.keys.job(job, "input"))
            .key(&results)
            .arg(index)
            .arg(self.sealed(&results, index, line))
            .arg(outcome.as_str())
            .arg(now)
            .arg(expires_at)
            .arg(self.sealed(&results, index, &erased_line(index)));
        let recorded = match self.link.script::<i64>(invocation).await? {
            0 => Recorded::Not,
            1 => Recorded::Once,
            _ => Recorded::Completed,
        };
        if recorded == Recorded::Completed
            && let Err(err) = self
                .link
                .run::<()>(redis::cmd("SREM").arg(self.keys.jobs_active()).arg(job))
                .await
        {
            // Only the gauge of active jobs reads the set; the job itself is completed.
            tracing::warn!(job, error = %err, "Could not take a completed job off the active set.");
        }
        Ok(recorded)
    }

    /// The subject is dealt with: off this replica's pending list and out of the stream.
    pub async fn ack(&self, item: &Item) -> Result<(), RedisError> {
        let stream = self.keys.jobs();
        let mut pipe = redis::pipe();
        pipe.cmd("XACK")
            .arg(&stream)
            .arg(JOB_WORKERS)
            .arg(&item.entry)
            .ignore();
        pipe.cmd("XDEL").arg(&stream).arg(&item.entry).ignore();
        self.link.run(&pipe).await
    }

    pub async fn cancel(&self, job: &str, now: u64) -> Result<bool, RedisError> {
        let mut invocation = self.cancel.key(self.keys.job(job, "meta"));
        invocation.key(self.keys.job(job, "input")).arg(now);
        let cancelled = self.link.script::<i64>(invocation).await? == 1;
        self.link
            .run::<()>(redis::cmd("SREM").arg(self.keys.jobs_active()).arg(job))
            .await?;
        Ok(cancelled)
    }

    /// The results at indexes `from..to` (`None`: not recorded yet).
    pub async fn results(
        &self,
        job: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Option<Bytes>>, RedisError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let key = self.keys.job(job, "results");
        let mut get = redis::cmd("HMGET");
        get.arg(&key);
        for index in from..to {
            get.arg(index);
        }
        let stored: Vec<Option<Vec<u8>>> = self.link.run(&get).await?;
        Ok(stored
            .into_iter()
            .zip(from..)
            .map(|(s, index)| s.and_then(|s| self.opened(&key, index, s)))
            .collect())
    }

    /// Note one webhook attempt (the last 100 are kept).
    pub async fn log_attempt(
        &self,
        job: &str,
        attempt: &[u8],
        expires_at: u64,
    ) -> Result<(), RedisError> {
        let key = self.keys.job(job, "webhook");
        let mut pipe = redis::pipe();
        pipe.cmd("RPUSH").arg(&key).arg(attempt).ignore();
        pipe.cmd("LTRIM").arg(&key).arg(-100).arg(-1).ignore();
        pipe.cmd("PEXPIREAT").arg(&key).arg(expires_at).ignore();
        self.link.run(&pipe).await
    }

    pub async fn attempts(&self, job: &str) -> Result<Vec<Bytes>, RedisError> {
        let stored: Vec<Vec<u8>> = self
            .link
            .run(
                redis::cmd("LRANGE")
                    .arg(self.keys.job(job, "webhook"))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        Ok(stored.into_iter().map(Bytes::from).collect())
    }

    /// Remove what the jobs hold about `user`: their inputs, and their results replaced by
    /// erased lines. (The index set itself goes with the user's other keys.)
    pub async fn erase(&self, user: &UserKey) -> Result<(), RedisError> {
        let members: Vec<String> = self
            .link
            .run(redis::cmd("SMEMBERS").arg(self.keys.user_jobs(user)))
            .await?;
        let mut by_job: HashMap<&str, Vec<u64>> = HashMap::new();
        for member in &members {
            if let Some((job, index)) = member.rsplit_once(':')
                && let Ok(index) = index.parse()
            {
                by_job.entry(job).or_default().push(index);
            }
        }
        for (job, indexes) in by_job {
            let results = self.keys.job(job, "results");
            let mut invocation = self.erase.key(self.keys.job(job, "input"));
            invocation.key(&results);
            for index in indexes {
                invocation
                    .arg(index)
                    .arg(self.sealed(&results, index, &erased_line(index)));
            }
            self.link.script::<i64>(invocation).await?;
        }
        Ok(())
    }
}

impl RedisJobs {
    /// Remove the group's consumers that hold nothing and were idle for `idle_ms`: replicas
    /// long gone (each process joins under a name of its own).
    pub async fn forget_gone_consumers(&self, idle_ms: u64) -> Result<usize, RedisError> {
        let mut info = redis::cmd("XINFO");
        info.arg("CONSUMERS").arg(self.keys.jobs()).arg(JOB_WORKERS);
        let reply: StreamInfoConsumersReply = match self.link.run(&info).await {
            // No stream or no group yet: no consumer either.
            Err(RedisError::Command(_)) => return Ok(0),
            other => other?,
        };
        let mut forgotten = 0;
        for consumer in reply.consumers {
            if consumer.pending == 0
                && consumer.idle as u64 >= idle_ms
                && consumer.name != self.consumer
            {
                let mut delete = redis::cmd("XGROUP");
                delete
                    .arg("DELCONSUMER")
                    .arg(self.keys.jobs())
                    .arg(JOB_WORKERS)
                    .arg(&consumer.name);
                self.link.run::<()>(&delete).await?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }
}

/// The subject a stream entry names (`w = <job>:<index>`).
/// A malformed entry names no job, so that a worker acknowledges it (rather than it being
/// taken over again and again).
fn item_of(entry: StreamId) -> Option<Item> {
    let work: Option<String> = entry.get("w");
    let (job, index) = work
        .as_deref()
        .and_then(|w| w.rsplit_once(':'))
        .and_then(|(job, index)| Some((job.to_owned(), index.parse().ok()?)))
        .unwrap_or_default();
    Some(Item {
        entry: entry.id,
        job,
        index,
    })
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .unwrap_or_else(|| "enrichd".into())
}
