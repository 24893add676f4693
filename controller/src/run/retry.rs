//! The error policy of status writes: a VA whose status could not be written is requeued
//! with backoff (1s, doubling up to [`MAX_DELAY`]) instead of waiting for the next engine
//! cycle; a successful write, a deletion or leaving scope forgets it.

use crate::keys::VaRef;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The wait before the first retry.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);

/// The longest wait between two retries.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// The wait before retry number `attempt` (0-based): [`FIRST_DELAY`] doubled `attempt`
/// times, capped at [`MAX_DELAY`].
pub fn delay(attempt: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(attempt.min(31)))
        .min(MAX_DELAY)
}

/// VAs waiting for a retry of their status write.
#[derive(Debug, Default)]
pub struct Retries {
    /// Failed attempts in a row, per VA.
    failures: HashMap<VaRef, u32>,
    /// When each requeued VA is due.
    due: HashMap<VaRef, Instant>,
}

impl Retries {
    /// Records a failed write of `va` at `now`; returns the wait before its retry.
    pub fn failed(&mut self, va: VaRef, now: Instant) -> Duration {
        let failures = self.failures.entry(va.clone()).or_default();
        let wait = delay(*failures);
        *failures = failures.saturating_add(1);
        self.due.insert(va, now + wait);
        wait
    }

    /// Forgets `va` (written, deleted or out of scope).
    pub fn forget(&mut self, va: &VaRef) {
        self.failures.remove(va);
        self.due.remove(va);
    }

    /// Forgets every VA (leadership lost: the next leader writes from scratch).
    pub fn clear(&mut self) {
        self.failures.clear();
        self.due.clear();
    }

    /// The earliest time a retry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// The VAs due at `now`, no longer queued (their failure count stays until forgotten).
    pub fn take_due(&mut self, now: Instant) -> Vec<VaRef> {
        let due: Vec<VaRef> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(va, _)| va.clone())
            .collect();
        for va in &due {
            self.due.remove(va);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::ObjectRef;

    #[test]
    fn the_delay_doubles_from_one_second_up_to_the_cap() {
        let delays: Vec<u64> = (0..8).map(|n| delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_va_is_due_after_its_backoff_and_forgotten_once_written() {
        let va: VaRef = ObjectRef::new("v").within("n");
        let mut retries = Retries::default();
        assert_eq!(retries.next_due(), None);
        assert_eq!(retries.failed(va.clone(), Instant::now()), FIRST_DELAY);
        assert!(retries.take_due(Instant::now()).is_empty(), "not yet");
        tokio::time::sleep_until(retries.next_due().expect("queued")).await;
        assert_eq!(retries.take_due(Instant::now()), std::slice::from_ref(&va));
        assert_eq!(retries.next_due(), None, "taken");
        assert_eq!(
            retries.failed(va.clone(), Instant::now()),
            Duration::from_secs(2),
            "the second failure in a row waits twice as long"
        );
        retries.forget(&va);
        assert_eq!(retries.next_due(), None);
        assert_eq!(retries.failed(va, Instant::now()), FIRST_DELAY, "reset");
    }
}
