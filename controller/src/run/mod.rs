//! `wva run`: the controller.
//!
//! [`startup`] wires everything and fails with an [`Error`] a user must fix. Then, on the
//! leader only: every `GLOBAL_OPT_INTERVAL` one engine [`cycle`], between cycles immediate
//! reactions to watch [`triggers`] ([`reconcile`] of a VA, [`reload`] of the main ConfigMap),
//! retries of failed status writes with backoff ([`retry`]), and every
//! `SCALE_FROM_ZERO_CHECK_INTERVAL` the scale-from-zero check of the models at zero ([`wake`]). The steps share a
//! [`Context`] of effect handles and a plain [`State`]; [`effects`] decides, without side
//! effects, which status, events and metrics follow from a decision.

pub mod context;
pub mod cycle;
pub mod effects;
pub mod events;
pub mod index;
pub mod model_id;
pub mod reconcile;
pub mod reload;
pub mod retry;
pub mod startup;
pub mod triggers;
pub mod wake;

pub use context::{Context, State};

use crate::error::Error;
use crate::keys;
use tokio::signal::unix::{Signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use triggers::Trigger;
use wva_api::params::Sources;

/// Runs the controller until SIGTERM or SIGINT. The error is what a user must fix; the
/// caller prints it and exits 1.
pub async fn run(startup: Sources) -> Result<(), Error> {
    let started = startup::start(startup).await?;
    let (ctx, mut state) = (started.ctx, started.state);
    let result = drive(&ctx, &mut state, started.triggers, started.leading).await;
    started.stop.send_replace(true);
    // A leader releases the Lease before exiting, so a standby takes over at once.
    if let Some((campaign, timeout)) = started.campaign {
        campaign.finish(timeout).await;
    }
    result
}

/// The controller loop: cycles on the ticker, triggers, retries and leadership changes.
async fn drive(
    ctx: &Context,
    state: &mut State,
    mut triggers: mpsc::UnboundedReceiver<Trigger>,
    mut leading: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut period = state.config.dynamic_config.global_opt_interval;
    let mut ticker = ticker(period);
    let mut wake_period = state.config.dynamic_config.scale_from_zero_check_interval;
    let mut wake_ticker = self::ticker(wake_period);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        let retry_at = state.retries.next_due();
        tokio::select! {
            _ = ticker.tick() => {
                if *leading.borrow() {
                    cycle::run(ctx, state).await;
                }
            }
            _ = wake_ticker.tick() => {
                if *leading.borrow() {
                    wake::check(ctx, state).await;
                }
            }
            Some(trigger) = triggers.recv() => {
                let lead = *leading.borrow();
                if handle(ctx, state, trigger, lead).await {
                    ticker.reset_immediately();
                }
                if state.config.dynamic_config.global_opt_interval != period {
                    period = state.config.dynamic_config.global_opt_interval;
                    ticker = self::ticker(period);
                }
                if state.config.dynamic_config.scale_from_zero_check_interval != wake_period {
                    wake_period = state.config.dynamic_config.scale_from_zero_check_interval;
                    wake_ticker = self::ticker(wake_period);
                }
            }
            () = sleep_until(retry_at) => {
                if !*leading.borrow() {
                    state.retries.clear();
                } else if reconcile::retry_due(ctx, state, Instant::now()).await {
                    ticker.reset_immediately();
                }
            }
            Ok(()) = leading.changed() => {
                if *leading.borrow() {
                    tracing::info!("Leading: running the engine");
                    ticker.reset_immediately();
                } else {
                    tracing::info!("Not leading: the engine is paused");
                    state.retries.clear();
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("Shutting down");
    Ok(())
}

/// Reacts to one watch event. Returns true when a cycle should run at once.
async fn handle(ctx: &Context, state: &mut State, trigger: Trigger, leading: bool) -> bool {
    match trigger {
        Trigger::MainConfigMap => {
            reload::main_config_map(ctx, state).await;
            false
        }
        Trigger::VaDeleted(va) => {
            state.targets.remove(&va);
            state.retries.forget(&va);
            state.forget_decision(&ctx.metrics, &va);
            false
        }
        Trigger::VaApplied { va, target } => {
            state.targets.set(va.clone(), target);
            match ctx.caches.vas.get(&va) {
                Some(va) if leading => reconcile::reconcile(ctx, state, &va).await,
                _ => false,
            }
        }
        Trigger::Target(target) if leading => {
            let mut soon = false;
            for key in state.targets.targeting(&target) {
                match ctx.caches.vas.get(&key) {
                    Some(va) if keys::target(&va) == target => {
                        soon |= reconcile::reconcile(ctx, state, &va).await;
                    }
                    Some(_) => {}
                    // Deleted while the watch was down: no Delete event came.
                    None => state.targets.remove(&key),
                }
            }
            soon
        }
        Trigger::Target(_) => false,
    }
}

/// A ticker every `period`; a late tick is delayed, not bunched up.
fn ticker(period: std::time::Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// Sleeps until `at`, forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn signal(kind: SignalKind) -> Result<Signal, Error> {
    tokio::signal::unix::signal(kind).map_err(|source| Error::Signal { source })
}
