//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go semantics:
//!
//! * every `retry_period` a candidate reads the Lease; it takes it when it is free, expired
//!   (`renewTime + leaseDurationSeconds` in the past) or already its own, by a replace that
//!   carries the read `resourceVersion`, so two candidates can never both win;
//! * the leader renews every `retry_period`, and steps down when it could not renew for
//!   `renew_deadline`;
//! * on shutdown the leader releases the Lease so a standby takes over at once.
//!
//! Leadership is published on a watch channel; only the leader runs the engine and writes.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Error};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The three timings of `LEADER_ELECTION_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a lease is valid after its last renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// Interval between attempts.
    pub retry_period: Duration,
}

/// One candidate for leadership of one Lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This candidate holds the Lease.
    Leading,
    /// Another holder's lease is still valid.
    Following(String),
}

impl Elector {
    /// A candidate named `identity` for the Lease `name` of `api`'s namespace.
    pub fn new(api: Api<Lease>, name: &str, identity: &str, timings: Timings) -> Self {
        Elector {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            timings,
        }
    }

    /// Runs the elector in a task of its own. Once `shutdown` turns true, await
    /// [`Campaign::finish`] before the process exits: the release of the Lease is an API call
    /// the exiting runtime would otherwise cancel, and then a standby waits out the whole
    /// lease instead of taking over at once.
    pub fn spawn(self, leading: watch::Sender<bool>, shutdown: watch::Receiver<bool>) -> Campaign {
        Campaign(tokio::spawn(self.run(leading, shutdown)))
    }

    /// Runs until `shutdown` turns true, publishing leadership on `leading` (receivers are
    /// woken only when it changes); releases the Lease on the way out when holding it.
    pub async fn run(self, leading: watch::Sender<bool>, mut shutdown: watch::Receiver<bool>) {
        let mut last_renewal: Option<Instant> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leading) => {
                    if publish(&leading, true) {
                        tracing::info!(lease = %self.name, identity = %self.identity, "Acquired leadership");
                    }
                    last_renewal = Some(Instant::now());
                }
                Ok(Attempt::Following(holder)) => {
                    if publish(&leading, false) {
                        tracing::warn!(lease = %self.name, %holder, "Lost leadership to another holder");
                    }
                    last_renewal = None;
                }
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "Leader election attempt failed");
                    let expired =
                        last_renewal.is_some_and(|t| t.elapsed() >= self.timings.renew_deadline);
                    if expired && publish(&leading, false) {
                        tracing::error!(lease = %self.name, "Could not renew leadership within the renew deadline; stepping down");
                        last_renewal = None;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.timings.retry_period) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        if publish(&leading, false) {
            match self.release().await {
                Ok(()) => tracing::info!(lease = %self.name, "Released leadership"),
                Err(error) => {
                    tracing::warn!(lease = %self.name, %error, "Could not release the lease")
                }
            }
        }
    }

    /// One attempt: take or renew the Lease when allowed.
    pub async fn try_acquire_or_renew(&self) -> Result<Attempt, Error> {
        let now = jiff::Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(Error::Api(e)) if e.code == 409 => {
                    Ok(Attempt::Following("(a concurrent creator)".into()))
                }
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if let Some(holder) = holder.filter(|_| !mine)
            && !expired(&spec, now)
        {
            return Ok(Attempt::Following(holder));
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!mine);
        let acquired = if mine {
            spec.acquire_time.map_or(now, |t| t.0)
        } else {
            now
        };
        lease.spec = Some(self.spec(acquired, now, transitions));
        // The replace carries the resourceVersion we read: a concurrent winner makes it fail.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Leading),
            Err(Error::Api(e)) if e.code == 409 => {
                Ok(Attempt::Following("(a concurrent candidate)".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Clears the holder so that another candidate may take the Lease at once.
    async fn release(&self) -> Result<(), Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(drop)
    }

    fn spec(
        &self,
        acquired: jiff::Timestamp,
        renewed: jiff::Timestamp,
        transitions: i32,
    ) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}

/// An [`Elector`] running in its task.
pub struct Campaign(tokio::task::JoinHandle<()>);

impl Campaign {
    /// Waits, at most `timeout`, until the elector has stopped after `shutdown` turned true,
    /// so that a leader's release of the Lease has reached the API server.
    pub async fn finish(self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.0).await.is_err() {
            tracing::warn!("Leader election did not stop in time; the Lease may not be released");
        }
    }
}

/// Sets `leading` to `value`, waking receivers only when it changes; true when it changed.
fn publish(leading: &watch::Sender<bool>, value: bool) -> bool {
    leading.send_if_modified(|current| std::mem::replace(current, value) != value)
}

/// True when the holder's lease ran out (or carries no renewal time).
fn expired(spec: &LeaseSpec, now: jiff::Timestamp) -> bool {
    let Some(renewed) = spec.renew_time.as_ref().map(|t| t.0) else {
        return true;
    };
    let duration = jiff::SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(0).into());
    renewed
        .checked_add(duration)
        .is_ok_and(|until| until <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        let now = jiff::Timestamp::now();
        LeaseSpec {
            holder_identity: Some("other".into()),
            renew_time: Some(MicroTime(
                now - jiff::SignedDuration::from_secs(renewed_secs_ago),
            )),
            lease_duration_seconds: Some(duration),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn leadership_wakes_receivers_only_when_it_changes() {
        let (leading, mut seen) = watch::channel(false);
        assert!(!publish(&leading, false));
        assert!(!seen.has_changed().expect("open"));
        assert!(publish(&leading, true));
        assert!(seen.has_changed().expect("open"));
        assert!(*seen.borrow_and_update());
        assert!(!publish(&leading, true), "a renewal is no change");
        assert!(!seen.has_changed().expect("open"));
        assert!(publish(&leading, false));
        assert!(!*seen.borrow_and_update());
    }

    /// `wva run` exits right after `finish`: by then the leader has released the Lease, and
    /// a follower's repeated attempts never woke the engine loop.
    #[tokio::test]
    async fn finish_returns_once_the_lease_is_released() {
        let double = wva_kube_double::KubeDouble::start().await;
        let config = kube::Config::new(double.url().parse().expect("url"));
        let api: Api<Lease> =
            Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
        let timings = Timings {
            lease_duration: Duration::from_secs(4),
            renew_deadline: Duration::from_secs(3),
            retry_period: Duration::from_millis(50),
        };
        let (stop_a, stopped_a) = watch::channel(false);
        let (leading, mut leader) = watch::channel(false);
        let a = Elector::new(api.clone(), "lease", "a", timings).spawn(leading, stopped_a);
        leader.wait_for(|l| *l).await.expect("a leads");
        let (stop_b, stopped_b) = watch::channel(false);
        let (following, mut follower) = watch::channel(false);
        let b = Elector::new(api.clone(), "lease", "b", timings).spawn(following, stopped_b);
        for _ in 0..5 {
            tokio::time::sleep(timings.retry_period).await;
            assert!(!follower.has_changed().expect("open"), "an attempt woke b");
            assert!(!leader.has_changed().expect("open"), "a renewal woke a");
        }
        stop_b.send_replace(true);
        b.finish(Duration::from_secs(5)).await;
        stop_a.send_replace(true);
        a.finish(Duration::from_secs(5)).await;
        let spec = api.get("lease").await.expect("lease").spec.expect("spec");
        assert_eq!(spec.holder_identity, None);
        assert!(!*leader.borrow_and_update());
        assert!(!*follower.borrow_and_update());
    }

    #[test]
    fn a_lease_expires_lease_duration_after_its_last_renewal() {
        let now = jiff::Timestamp::now();
        assert!(!expired(&spec(10, 60), now));
        assert!(expired(&spec(61, 60), now));
        assert!(expired(&LeaseSpec::default(), now));
    }
}
