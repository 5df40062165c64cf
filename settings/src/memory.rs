//! The memory the runtime's buffers take, and the machine's.
//!
//! The ring's slots are allocated at start (`ring_capacity` events of [`EVENT_BYTES`]); the
//! events waiting in them hold at most `ring_bytes`; between the ring and the store at most
//! `channel_batches + 2` batches exist (the channel's, the one the collector fills, the one the
//! writer writes), each allocated with room for `batch_events` events and holding at most
//! `batch_bytes`. Together ([`demand`]) they may take at most half of the machine's memory
//! ([`Machine::limit`]), or what the defaults take on a machine too small for that: a value
//! past it would have the VM die on its first recorded call (Rust aborts when an allocation
//! fails), so both the toml reader and `start/1` refuse it, naming the setting and the largest
//! value that fits.

use crate::error::{SettingError, Why};
use crate::table::{BATCH_BYTES, BATCH_EVENTS, CHANNEL_BATCHES, RING_BYTES, RING_CAPACITY};
use crate::value::{Value, Values};

/// The bytes of one event in a ring slot or a batch: `size_of::<store::Event>()`
/// (`runtime_core` checks that they agree).
pub const EVENT_BYTES: u64 = 136;

/// The formula of [`demand`], for the documentation.
pub fn formula() -> String {
    format!(
        "ring_capacity × {EVENT_BYTES} + ring_bytes + (channel_batches + 2) × (batch_events × \
         {EVENT_BYTES} + batch_bytes)"
    )
}

/// The bytes the runtime's buffers can take with these sizes (see the module documentation).
pub fn demand(
    ring_capacity: u64,
    ring_bytes: u64,
    batch_events: u64,
    batch_bytes: u64,
    channel_batches: u64,
) -> u128 {
    let event = u128::from(EVENT_BYTES);
    u128::from(ring_capacity) * event
        + u128::from(ring_bytes)
        + (u128::from(channel_batches) + 2)
            * (u128::from(batch_events) * event + u128::from(batch_bytes))
}

/// The memory of the machine the runtime runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// Its memory in bytes: physical memory, or the process's cgroup limit when lower; `None`
    /// when unknown (then only each setting's own bounds apply).
    pub memory: Option<u64>,
}

impl Machine {
    /// This machine: `MemTotal` of `/proc/meminfo`, lowered by the cgroup's `memory.max`.
    pub fn this() -> Machine {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                kib.checked_mul(1024)
            });
        let memory = match (total, cgroup_limit()) {
            (Some(total), Some(limit)) => Some(total.min(limit)),
            (total, limit) => total.or(limit),
        };
        Machine { memory }
    }

    /// The most bytes the buffers may take here: half the memory, or the defaults' demand when
    /// that is more (the defaults always start); `None` when the memory is unknown.
    pub fn limit(&self) -> Option<u128> {
        let half = u128::from(self.memory?) / 2;
        Some(half.max(Values::default().demand()))
    }
}

/// The memory limit of this process's cgroup (v2), when it has a number.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = groups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let max = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.max")).ok()?;
    max.trim().parse().ok()
}

impl Values {
    /// The bytes the runtime's buffers can take with these values (defaults for the rest).
    pub fn demand(&self) -> u128 {
        demand(
            self.integer(&RING_CAPACITY),
            self.integer(&RING_BYTES),
            self.integer(&BATCH_EVENTS),
            self.integer(&BATCH_BYTES),
            self.integer(&CHANNEL_BATCHES),
        )
    }

    /// Whether the buffers fit in `machine` ([`Machine::limit`]). If not, the error names the
    /// memory setting that takes the most, and the largest value of it that fits.
    pub fn check_machine(&self, machine: &Machine) -> Result<(), SettingError> {
        let (Some(limit), Some(memory)) = (machine.limit(), machine.memory) else {
            return Ok(());
        };
        let demand = self.demand();
        if demand <= limit {
            return Ok(());
        }
        // Each setting's share is linear in it: demand = rest + per_unit × value.
        let with = |setting, value| {
            let mut values = self.clone();
            values.force(setting, Value::Integer(value));
            values.demand()
        };
        let largest = self
            .iter()
            .filter(|(s, _)| s.memory)
            .filter_map(|(s, value)| match value {
                Value::Integer(n) => Some((s, *n)),
                _ => None,
            })
            .map(|(setting, given)| {
                let rest = with(setting, 0);
                let per_unit = with(setting, 1) - rest;
                (setting, given, rest, per_unit)
            })
            .max_by_key(|(_, given, _, per_unit)| u128::from(*given) * per_unit);
        // Only set values can exceed the limit: the defaults are within it.
        let Some((setting, given, rest, per_unit)) = largest else {
            return Ok(());
        };
        let fits = limit.saturating_sub(rest) / per_unit.max(1);
        let max = fits.min(u128::from(setting.bounds().1)) as u64;
        Err(SettingError::new(
            setting.key,
            Why::Memory {
                given,
                max,
                demand,
                limit,
                machine: memory,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Given;

    const GIB: u64 = 1 << 30;

    fn values(pairs: &[(&'static crate::Setting, i128)]) -> Values {
        let mut values = Values::default();
        for (setting, n) in pairs {
            values.set(setting, &Given::Integer(*n)).unwrap();
        }
        values
    }

    #[test]
    fn the_defaults_fit_any_machine() {
        let defaults = (1 << 17) * 136 + (32 << 20) + 34 * (8192 * 136 + (4 << 20));
        assert_eq!(Values::default().demand(), defaults);
        let tiny = Machine {
            memory: Some(64 << 20),
        };
        assert_eq!(Values::default().check_machine(&tiny), Ok(()));
        assert_eq!(tiny.limit(), Some(defaults));
    }

    #[test]
    fn buffers_past_half_the_memory_name_the_largest_setting_and_what_fits() {
        let machine = Machine {
            memory: Some(24 * GIB),
        };
        let fine = values(&[(&RING_CAPACITY, 1 << 21), (&RING_BYTES, 1 << 30)]);
        assert_eq!(fine.check_machine(&machine), Ok(()));
        let big = values(&[(&RING_CAPACITY, 1 << 30), (&RING_BYTES, 1 << 20)]);
        let e = big.check_machine(&machine).unwrap_err();
        assert_eq!(e.key, "ring_capacity");
        let Why::Memory { max, limit, .. } = e.why else {
            panic!("{e:?}")
        };
        assert_eq!(limit, u128::from(12 * GIB));
        let mut at_max = big.clone();
        at_max
            .set(&RING_CAPACITY, &Given::Integer(max.into()))
            .unwrap();
        assert_eq!(at_max.check_machine(&machine), Ok(()), "the max fits");
        at_max
            .set(&RING_CAPACITY, &Given::Integer(i128::from(max) + 1))
            .unwrap();
        assert!(at_max.check_machine(&machine).is_err(), "one more does not");
        assert!(
            e.to_string().contains("half of the machine's 24 GiB"),
            "{e}"
        );

        let batches = values(&[(&CHANNEL_BATCHES, 60_000), (&BATCH_BYTES, 1 << 26)]);
        let e = batches.check_machine(&machine).unwrap_err();
        assert_eq!(e.key, "channel_batches");
        let unknown = Machine { memory: None };
        assert_eq!(batches.check_machine(&unknown), Ok(()));
    }

    #[test]
    fn this_machine_has_memory() {
        if cfg!(target_os = "linux") {
            assert!(Machine::this().memory.is_some_and(|m| m > 1 << 20));
        }
    }
}
