//! The filters of `elixir-scope calls`, as `ElixirScope.calls/1` takes them.

use analysis::{CallQuery, Dialect};
use chrono::{DateTime, Local, NaiveTime, TimeZone as _};
use store::{CallFilter, RunInfo, Snapshot};

use super::db::QueryError;

/// Which module, process and time window: the scope `calls` and `profile` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CallScope {
    /// Only calls of this module: Fixture.Basics, Elixir.Fixture.Basics, :lists or lists.
    #[arg(long, value_name = "MODULE")]
    pub module: Option<String>,
    /// Only calls of this process: <0.110.0> or 0.110.0.
    #[arg(long, value_name = "PID")]
    pub pid: Option<String>,
    /// Only calls that started at or after TIME: an RFC 3339 time (2026-11-28T14:03:21Z), a
    /// local time of the run's day (14:03:21.5), or +DURATION from the run's start (+1.5s,
    /// +200ms; units ns, us, ms, s, m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only calls that started at or before TIME (as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// Which calls to list.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Which module, process and time.
    #[command(flatten)]
    pub scope: CallScope,
    /// Only calls of this function (of any module unless --module is given).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// Only calls with this arity.
    #[arg(long, value_name = "N")]
    pub arity: Option<u8>,
    /// Only calls that raised.
    #[arg(long)]
    pub exceptions: bool,
    /// Only calls of this test (a run of `mix test`; `elixir-scope tests` lists them): made by
    /// the process that ran it or by processes it started. Its name as written ("places an
    /// order", or ExUnit's "test places an order"), else a part of test names.
    #[arg(long, value_name = "NAME")]
    pub test: Option<String>,
    /// Only calls matching this pattern, written as Elixir or Erlang code:
    /// 'Shop.Checkout.place(%{customer: "joe"})', 'lists:keyfind(_, 1, _)',
    /// 'Cart.add(_, n) when n > 10', 'Shop.Cart.add/2', 'Shop.Cart' (README: Patterns).
    #[arg(long = "match", value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Only calls that returned a value matching this pattern: '{:error, _}'.
    #[arg(long, value_name = "PATTERN")]
    pub result: Option<String>,
    /// Only calls that raised this: an exception module (ArgumentError, which also stands for
    /// Erlang's badarg), a pattern over the reason ('{:badmatch, _}'), a class (error, exit,
    /// throw) or both ('exit:{:shutdown, _}').
    #[arg(long, value_name = "PATTERN")]
    pub exception: Option<String>,
    /// The language of --result and --exception when there is no --match to tell it.
    #[arg(long, value_enum, default_value = "elixir")]
    pub syntax: Syntax,
    /// At most this many calls, newest first (at least 1).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = at_least_one)]
    pub limit: usize,
}

/// The language patterns are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Syntax {
    /// Elixir: `{:error, _}`, `%{a: 1}`.
    #[default]
    Elixir,
    /// Erlang: `{error, _}`, `#{a := 1}`.
    Erlang,
}

impl Syntax {
    /// The analysis crate's dialect.
    pub fn dialect(self) -> Dialect {
        match self {
            Syntax::Elixir => Dialect::Elixir,
            Syntax::Erlang => Dialect::Erlang,
        }
    }
}

impl Filters {
    /// The patterns (`--match`, `--result`, `--exception`), parsed: errors point at the column.
    pub fn query(&self) -> Result<CallQuery, QueryError> {
        Ok(CallQuery::parse(
            self.pattern.as_deref(),
            self.result.as_deref(),
            self.exception.as_deref(),
            self.syntax.dialect(),
        )?)
    }

    /// The matching calls of each run, newest first (see [`CallQuery::calls`]).
    pub fn calls(
        &self,
        query: &CallQuery,
        snap: &Snapshot,
        limit: usize,
    ) -> Result<Vec<store::Call>, QueryError> {
        let mut filter = self.to_filter(snap)?;
        filter.limit = limit;
        Ok(query.calls(snap, &filter)?)
    }

    /// The store's filter for this snapshot's run.
    pub fn to_filter(&self, snap: &Snapshot) -> Result<CallFilter, QueryError> {
        let info = &snap.run().info;
        let pid = match &self.scope.pid {
            Some(text) => Some(find_pid(snap, text)?),
            None => None,
        };
        let pids = match &self.test {
            Some(name) => match snap.processes_of_tests_named(name)? {
                Some(pids) => Some(pids),
                None => {
                    return Err(QueryError::NoSuchTest {
                        name: name.clone(),
                        run: snap.run().id,
                        tests: snap.tests()?.len(),
                    })
                }
            },
            None => None,
        };
        Ok(CallFilter {
            module: self.scope.module.as_deref().map(module_atom),
            function: self
                .function
                .as_deref()
                .map(|f| f.trim_start_matches(':').to_string()),
            arity: self.arity,
            pid,
            since: self
                .scope
                .since
                .as_deref()
                .map(|t| time(info, t, "--since"))
                .transpose()?,
            until: self
                .scope
                .until
                .as_deref()
                .map(|t| time(info, t, "--until"))
                .transpose()?,
            exceptions_only: self.exceptions,
            limit: self.limit,
            scan_limit: 0,
            pids,
        })
    }
}

/// A count that must be at least 1 (`--limit 0` asks for nothing, which is surely a mistake).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The atom of a module as people write it: `Foo.Bar` is `Elixir.Foo.Bar`, `:lists` is
/// `lists`.
pub fn module_atom(text: &str) -> String {
    if let Some(erlang) = text.strip_prefix(':') {
        return erlang.trim_matches('"').to_string();
    }
    if text.starts_with("Elixir.") || !text.starts_with(|c: char| c.is_ascii_uppercase()) {
        return text.to_string();
    }
    format!("Elixir.{text}")
}

/// The pid word of a recorded process given as `<0.110.0>`, `#PID<0.110.0>` or `0.110.0`.
fn find_pid(snap: &Snapshot, text: &str) -> Result<u64, QueryError> {
    let bare = text
        .trim()
        .trim_start_matches("#PID")
        .trim_start_matches('<')
        .trim_end_matches('>');
    let wanted = format!("<{bare}>");
    snap.processes()?
        .into_iter()
        .find(|p| p.text == wanted)
        .map(|p| p.pid)
        .ok_or(QueryError::NoSuchProcess {
            pid: wanted,
            run: snap.run().id,
        })
}

/// A time option as a monotonic event time of the run.
fn time(info: &RunInfo, text: &str, option: &'static str) -> Result<u64, QueryError> {
    let bad = |problem: String| QueryError::Option { option, problem };
    if let Some(offset) = text.strip_prefix('+') {
        let ns = duration_ns(offset).ok_or_else(|| {
            bad(format!(
                "{text:?} is not a duration such as +1.5s or +200ms"
            ))
        })?;
        return Ok(info.monotonic_origin_ns.saturating_add(ns));
    }
    let unix_ns = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.timestamp_nanos_opt()
    } else if let Ok(t) = NaiveTime::parse_from_str(text, "%H:%M:%S%.f") {
        let day = Local
            .timestamp_nanos(info.started_unix_ns.min(i64::MAX as u64) as i64)
            .date_naive();
        Local
            .from_local_datetime(&day.and_time(t))
            .earliest()
            .and_then(|t| t.timestamp_nanos_opt())
    } else {
        None
    };
    let unix_ns = unix_ns.ok_or_else(|| {
        bad(format!(
            "{text:?} is not a time: give 2026-11-28T14:03:21Z, 14:03:21.5 or +1.5s"
        ))
    })?;
    Ok(info.monotonic_ns(unix_ns.max(0) as u64))
}

/// `1.5s`, `200ms`, `10us`, `10µs`, `500ns`, `2m` in nanoseconds.
pub fn duration_ns(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => return None,
    };
    let ns = number * scale;
    (ns.is_finite() && ns >= 0.0 && ns < u64::MAX as f64).then_some(ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_as_people_write_them() {
        assert_eq!(module_atom("Fixture.Basics"), "Elixir.Fixture.Basics");
        assert_eq!(
            module_atom("Elixir.Fixture.Basics"),
            "Elixir.Fixture.Basics"
        );
        assert_eq!(module_atom(":lists"), "lists");
        assert_eq!(module_atom("lists"), "lists");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ns("1.5s"), Some(1_500_000_000));
        assert_eq!(duration_ns("200ms"), Some(200_000_000));
        assert_eq!(duration_ns("10µs"), Some(10_000));
        assert_eq!(duration_ns("2m"), Some(120_000_000_000));
        assert_eq!(duration_ns("5"), None);
        assert_eq!(duration_ns("5h"), None);
    }

    #[test]
    fn times_of_the_run() {
        let info = RunInfo {
            started_unix_ns: 1_800_000_000_000_000_000,
            monotonic_origin_ns: 5_000,
            erlang_monotonic_ns: 0,
            os_pid: 1,
            node: "n".into(),
            otp_release: "25".into(),
            tool_version: "0".into(),
        };
        assert_eq!(time(&info, "+1ms", "--since").unwrap(), 1_005_000);
        let rfc = time(&info, "2027-01-15T08:00:00.000001Z", "--since").unwrap();
        assert_eq!(rfc, 5_000 + 1_000);
        assert!(time(&info, "yesterday", "--since").is_err());
    }
}
