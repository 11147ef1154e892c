//! Jobs without Redis: in this process only, lost on restart. The same rules as in Redis
//! (each subject recorded once, erasure reaching inputs and results), with bounds of their
//! own: at most `jobs.max_queued_subjects` waiting, and at most [`MAX_KEPT`] jobs kept (the
//! oldest finished ones go first), each at most `jobs.retention_seconds`.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use bytes::Bytes;

use super::model::{Item, Meta, NewJob, Outcome, Recorded, Status, erased_line};
use crate::domain::{Tenant, UserKey};

/// The most jobs kept in process.
pub const MAX_KEPT: usize = 1000;

#[derive(Default)]
pub struct LocalJobs {
    state: Mutex<State>,
    retention_ms: u64,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, Job>,
    /// Subjects not taken yet.
    queue: VecDeque<(String, u64)>,
}

struct Job {
    meta: Meta,
    inputs: HashMap<u64, Bytes>,
    results: HashMap<u64, Bytes>,
    /// The user each subject names, for erasure.
    users: HashMap<u64, UserKey>,
    attempts: Vec<Bytes>,
}

impl LocalJobs {
    pub fn new(retention_seconds: u64) -> LocalJobs {
        LocalJobs {
            state: Mutex::default(),
            retention_ms: retention_seconds.saturating_mul(1000),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn depth(&self) -> u64 {
        self.state().queue.len() as u64
    }

    pub fn active(&self) -> u64 {
        let state = self.state();
        state
            .jobs
            .values()
            .filter(|j| j.meta.status.is_open())
            .count() as u64
    }

    pub fn create(&self, job: &NewJob<'_>) -> bool {
        let NewJob {
            meta,
            inputs,
            decided,
            users,
        } = *job;
        let mut state = self.state();
        state.forget_old(meta.created_at, self.retention_ms);
        if state.jobs.len() >= MAX_KEPT {
            return false;
        }
        state
            .queue
            .extend(inputs.iter().map(|(index, _)| (meta.id.clone(), *index)));
        let job = Job {
            meta: meta.clone(),
            inputs: inputs.iter().cloned().collect(),
            results: decided.iter().cloned().collect(),
            users: users
                .iter()
                .map(|(user, index)| (*index, user.clone()))
                .collect(),
            attempts: Vec::new(),
        };
        state.jobs.insert(meta.id.clone(), job);
        true
    }

    pub fn fetch(&self, count: usize) -> Vec<Item> {
        let mut state = self.state();
        let take = count.min(state.queue.len());
        state
            .queue
            .drain(..take)
            .map(|(job, index)| Item {
                entry: String::new(),
                job,
                index,
            })
            .collect()
    }

    /// The newest `limit` jobs of `tenant`, newest first.
    pub fn recent(&self, tenant: &Tenant, limit: usize) -> Vec<Meta> {
        let state = self.state();
        let mut metas: Vec<Meta> = state
            .jobs
            .values()
            .filter(|j| j.meta.tenant == *tenant)
            .map(|j| j.meta.clone())
            .collect();
        metas.sort_by_key(|m| std::cmp::Reverse(m.created_at));
        metas.truncate(limit);
        metas
    }

    pub fn input(&self, job: &str, index: u64) -> Option<Bytes> {
        self.state().jobs.get(job)?.inputs.get(&index).cloned()
    }

    pub fn meta(&self, job: &str) -> Option<Meta> {
        self.state().jobs.get(job).map(|j| j.meta.clone())
    }

    pub fn start(&self, job: &str, now: u64) {
        if let Some(job) = self.state().jobs.get_mut(job)
            && job.meta.status == Status::Queued
        {
            job.meta.status = Status::Running;
            job.meta.started_at.get_or_insert(now);
        }
    }

    pub fn record(
        &self,
        job: &str,
        index: u64,
        line: Bytes,
        outcome: Outcome,
        now: u64,
    ) -> Recorded {
        let mut state = self.state();
        let Some(job) = state.jobs.get_mut(job) else {
            return Recorded::Not;
        };
        if !job.meta.status.is_open() || job.results.contains_key(&index) {
            return Recorded::Not;
        }
        let (line, outcome) = match job.inputs.remove(&index) {
            Some(_) => (line, outcome),
            None => (erased_line(index), Outcome::Failed),
        };
        job.results.insert(index, line);
        job.meta.counts.add(outcome);
        job.meta.status = Status::Running;
        job.meta.started_at.get_or_insert(now);
        if job.meta.counts.done >= job.meta.counts.total {
            job.meta.status = Status::Completed;
            job.meta.finished_at = Some(now);
            return Recorded::Completed;
        }
        Recorded::Once
    }

    pub fn cancel(&self, job: &str, now: u64) -> bool {
        let mut state = self.state();
        let Some(found) = state.jobs.get_mut(job) else {
            return false;
        };
        if !found.meta.status.is_open() {
            return false;
        }
        found.meta.status = Status::Cancelled;
        found.meta.finished_at = Some(now);
        state.queue.retain(|(id, _)| id != job);
        true
    }

    pub fn results(&self, job: &str, from: u64, to: u64) -> Vec<Option<Bytes>> {
        let state = self.state();
        let Some(job) = state.jobs.get(job) else {
            return Vec::new();
        };
        (from..to).map(|i| job.results.get(&i).cloned()).collect()
    }

    pub fn log_attempt(&self, job: &str, attempt: Bytes) {
        if let Some(job) = self.state().jobs.get_mut(job) {
            if job.attempts.len() >= 100 {
                job.attempts.remove(0);
            }
            job.attempts.push(attempt);
        }
    }

    pub fn attempts(&self, job: &str) -> Vec<Bytes> {
        self.state()
            .jobs
            .get(job)
            .map(|j| j.attempts.clone())
            .unwrap_or_default()
    }

    pub fn erase(&self, user: &UserKey) {
        let mut state = self.state();
        for job in state.jobs.values_mut() {
            let named: Vec<u64> = job
                .users
                .iter()
                .filter(|(_, u)| *u == user)
                .map(|(i, _)| *i)
                .collect();
            for index in named {
                job.users.remove(&index);
                job.inputs.remove(&index);
                if let Some(result) = job.results.get_mut(&index) {
                    *result = erased_line(index);
                }
            }
        }
    }
}

impl State {
    /// Drop jobs past their retention, then the oldest finished ones beyond [`MAX_KEPT`] - 1.
    fn forget_old(&mut self, now: u64, retention_ms: u64) {
        self.jobs
            .retain(|_, job| job.meta.created_at.saturating_add(retention_ms) > now);
        while self.jobs.len() >= MAX_KEPT {
            let oldest = self
                .jobs
                .values()
                .filter(|j| !j.meta.status.is_open())
                .min_by_key(|j| j.meta.created_at)
                .map(|j| j.meta.id.clone());
            match oldest {
                Some(id) => {
                    self.jobs.remove(&id);
                }
                None => break,
            }
        }
        let jobs = &self.jobs;
        self.queue.retain(|(id, _)| jobs.contains_key(id));
    }
}
