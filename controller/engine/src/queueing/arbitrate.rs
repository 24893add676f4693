//! HYBRID arbitration: the capacity analyzer's target and the performance model's target for
//! one variant become one target, and capacity safety always wins.

use serde::Serialize;

/// Which rule decided a variant's target in HYBRID mode; each names the `OptimizationReady`
/// condition reason it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Arbitration {
    /// The model has no target (not enough data, no service class, infeasible SLO): the
    /// capacity target applies (`CapacityOnlyMode`).
    CapacityOnly,
    /// Both agree, or the higher of the two scale-up targets won (`OptimizationSucceeded`,
    /// "Hybrid mode: ...").
    Hybrid,
    /// The model wanted fewer replicas than capacity safety allows: capacity's target stands
    /// (`CapacitySafetyOverride`).
    CapacitySafetyOverride,
}

impl Arbitration {
    /// The condition reason.
    pub fn condition_reason(self) -> &'static str {
        match self {
            Arbitration::CapacityOnly => "CapacityOnlyMode",
            Arbitration::Hybrid => "OptimizationSucceeded",
            Arbitration::CapacitySafetyOverride => "CapacitySafetyOverride",
        }
    }
}

/// The target of a variant with `current` replicas, given the capacity analyzer's target,
/// the model's target (`None`: no model result) and whether capacity says removing replicas
/// is safe:
///
/// * up: the higher of the two targets, when either is above `current`;
/// * down: only when both are below `current` and capacity says it is safe, to the higher of
///   the two (the smaller step);
/// * otherwise `current`, or capacity's own target when the model has none.
pub fn arbitrate(
    current: u32,
    capacity: u32,
    model: Option<u32>,
    scale_down_safe: bool,
) -> (u32, Arbitration) {
    let Some(model) = model else {
        return (capacity, Arbitration::CapacityOnly);
    };
    let higher = capacity.max(model);
    if higher > current {
        let why = if model < capacity {
            Arbitration::CapacitySafetyOverride
        } else {
            Arbitration::Hybrid
        };
        return (higher, why);
    }
    if capacity < current && model < current {
        return if scale_down_safe {
            (higher, Arbitration::Hybrid)
        } else {
            (current, Arbitration::CapacitySafetyOverride)
        };
    }
    if model < current {
        // Capacity holds: the model's scale-down is vetoed.
        return (current, Arbitration::CapacitySafetyOverride);
    }
    (current, Arbitration::Hybrid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Arbitration::*;

    #[test]
    fn arbitration_table() {
        // (current, capacity, model, scale-down safe) -> (target, rule)
        let cases = [
            // The model scales up before saturation: its target wins.
            ((2, 2, Some(4), true), (4, Hybrid)),
            // Capacity scales up, the model would shrink: capacity vetoes.
            ((2, 3, Some(1), true), (3, CapacitySafetyOverride)),
            // Both up: the higher.
            ((2, 3, Some(5), false), (5, Hybrid)),
            ((2, 5, Some(3), false), (5, CapacitySafetyOverride)),
            // Both down and safe: the smaller step.
            ((4, 3, Some(2), true), (3, Hybrid)),
            // Both down but capacity says unsafe: hold.
            ((4, 3, Some(2), false), (4, CapacitySafetyOverride)),
            // Only the model wants down: hold.
            ((4, 4, Some(2), true), (4, CapacitySafetyOverride)),
            // Only capacity wants down, the model holds: hold.
            ((4, 3, Some(4), true), (4, Hybrid)),
            // Agreement.
            ((3, 3, Some(3), true), (3, Hybrid)),
            // No model result: capacity alone, whatever it says.
            ((3, 1, None, true), (1, CapacityOnly)),
            ((3, 5, None, false), (5, CapacityOnly)),
        ];
        for ((current, capacity, model, safe), expected) in cases {
            assert_eq!(
                arbitrate(current, capacity, model, safe),
                expected,
                "current {current}, capacity {capacity}, model {model:?}, safe {safe}"
            );
        }
    }

    #[test]
    fn never_below_capacity_when_capacity_grows() {
        for current in 0..6 {
            for capacity in 0..8 {
                for model in 0..8 {
                    for safe in [false, true] {
                        let (target, _) = arbitrate(current, capacity, Some(model), safe);
                        if capacity > current {
                            assert!(target >= capacity);
                        }
                        if target < current {
                            assert!(safe && capacity < current && model < current);
                        }
                    }
                }
            }
        }
    }
}
