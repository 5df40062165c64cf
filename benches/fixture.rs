//! A shop-like recording for benchmarks of the questions asked of a run (profiles, patterns,
//! searches): [`shop_store`] writes it once, as the runtime writes (a seal every 64 batches
//! of 8,192 events, each followed by the maintenance pass), and later runs reuse it.
//!
//! Shape: requests over 500 processes, ten calls each, nested as a web request placing an
//! order would be:
//!
//! ```text
//! Web.handle(conn, %{"order" => id})                              -> {:ok, 200}
//!   Shop.Checkout.place(%{customer: "joe17", items: [{"tea", 2}, ...], card: "4485..."})
//!     Shop.Inventory.reserve("tea", 2)                            -> {:ok, 8} | {:error, :out_of_stock}
//!       :lists.keyfind("tea", 1, [{"tea", 10}, {"cup", 4}, ...])  -> {"tea", 10} | false
//!     Shop.Inventory.reserve("cup", 1) ...
//!       :lists.keyfind(...)
//!     Shop.Checkout.total([{"tea", 2}, ...])                      -> %Money{cents: 2100, ...}
//!       Money.add(%Money{...}, %Money{...}) (twice)
//!     Shop.Payment.charge(<<"4485 ...">>, 2100)                   -> {:ok, "ch_17"}; raises 1 in 50
//! ```
//!
//! Values are real external-term-format terms (maps, binaries, tuples, lists, integers,
//! structs) from a few thousand variants per function; durations vary by call.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use eetf::{Atom, Binary, FixInteger, List, Map, Term, Tuple};
use store::{
    AtomKey, AtomNames, Bytes, Class, End, Enter, Event, EventKind, Outcome, Retention, RunInfo,
    Store,
};

/// Calls per request.
pub const CALLS_PER_REQUEST: u64 = 10;
/// Processes the requests run in.
pub const PROCESSES: u64 = 500;

/// Atom keys of the fixture's modules and functions.
mod names {
    pub const WEB: u64 = 0;
    pub const CHECKOUT: u64 = 1;
    pub const INVENTORY: u64 = 2;
    pub const LISTS: u64 = 3;
    pub const MONEY: u64 = 4;
    pub const PAYMENT: u64 = 5;
    pub const HANDLE: u64 = 10;
    pub const PLACE: u64 = 11;
    pub const RESERVE: u64 = 12;
    pub const KEYFIND: u64 = 13;
    pub const TOTAL: u64 = 14;
    pub const ADD: u64 = 15;
    pub const CHARGE: u64 = 16;
}

struct Names;

impl AtomNames for Names {
    fn name(&self, key: AtomKey) -> Option<String> {
        use names::*;
        let name = match key {
            WEB => "Elixir.Web",
            CHECKOUT => "Elixir.Shop.Checkout",
            INVENTORY => "Elixir.Shop.Inventory",
            LISTS => "lists",
            MONEY => "Elixir.Money",
            PAYMENT => "Elixir.Shop.Payment",
            HANDLE => "handle",
            PLACE => "place",
            RESERVE => "reserve",
            KEYFIND => "keyfind",
            TOTAL => "total",
            ADD => "add",
            CHARGE => "charge",
            _ => return None,
        };
        Some(name.to_string())
    }
}

fn etf(term: Term) -> Bytes {
    let mut out = Vec::new();
    term.encode(&mut out).expect("encoding a fixture term");
    Bytes::from(out)
}

fn atom(name: &str) -> Term {
    Term::from(Atom::from(name))
}

fn int(i: i32) -> Term {
    Term::from(FixInteger::from(i))
}

fn text(s: &str) -> Term {
    Term::from(Binary::from(s.as_bytes()))
}

fn tuple(items: Vec<Term>) -> Term {
    Term::from(Tuple::from(items))
}

fn list(items: Vec<Term>) -> Term {
    Term::from(List::from(items))
}

fn args(items: Vec<Term>) -> Bytes {
    etf(list(items))
}

fn money(cents: i32) -> Term {
    Term::from(Map::from([
        (atom("__struct__"), atom("Elixir.Money")),
        (atom("cents"), int(cents)),
        (atom("currency"), atom("EUR")),
    ]))
}

const SKUS: [&str; 6] = ["tea", "cup", "pot", "mat", "box", "jar"];

/// Pre-encoded values, `VARIANTS` of each kind.
struct Values {
    handle_args: Vec<Bytes>,
    place_args: Vec<Bytes>,
    reserve_args: Vec<Bytes>,
    keyfind_args: Vec<Bytes>,
    total_args: Vec<Bytes>,
    add_args: Vec<Bytes>,
    charge_args: Vec<Bytes>,
    ok_n: Vec<Bytes>,
    found: Vec<Bytes>,
    moneys: Vec<Bytes>,
    charged: Vec<Bytes>,
    out_of_stock: Bytes,
    not_found: Bytes,
    ok_200: Bytes,
    declined: Bytes,
}

const VARIANTS: usize = 4096;

impl Values {
    fn new() -> Values {
        let stock = list(
            SKUS.iter()
                .enumerate()
                .map(|(i, s)| tuple(vec![text(s), int(10 + i as i32)]))
                .collect(),
        );
        let items = |v: usize| -> Term {
            list(
                (0..1 + v % 3)
                    .map(|i| {
                        tuple(vec![
                            text(SKUS[(v + i) % SKUS.len()]),
                            int(1 + (v % 4) as i32),
                        ])
                    })
                    .collect(),
            )
        };
        let card = |v: usize| format!("4485 2752 7460 {:04}", v % 10_000);
        let variants = |f: &dyn Fn(usize) -> Bytes| (0..VARIANTS).map(f).collect::<Vec<_>>();
        Values {
            handle_args: variants(&|v| {
                let conn = Term::from(Map::from([
                    (atom("method"), text("POST")),
                    (atom("path"), text("/orders")),
                    (
                        atom("remote_ip"),
                        tuple(vec![int(10), int(0), int((v % 250) as i32), int(7)]),
                    ),
                ]));
                let params = Term::from(Map::from([(text("order"), int(v as i32))]));
                args(vec![conn, params])
            }),
            place_args: variants(&|v| {
                let order = Term::from(Map::from([
                    (atom("customer"), text(&format!("joe{v}"))),
                    (atom("items"), items(v)),
                    (atom("card"), text(&card(v))),
                ]));
                args(vec![order])
            }),
            reserve_args: variants(&|v| {
                args(vec![text(SKUS[v % SKUS.len()]), int(1 + (v % 4) as i32)])
            }),
            keyfind_args: variants(&|v| {
                args(vec![text(SKUS[v % SKUS.len()]), int(1), stock.clone()])
            }),
            total_args: variants(&|v| args(vec![items(v)])),
            add_args: variants(&|v| args(vec![money(100 * (v % 50) as i32), money(250)])),
            charge_args: variants(&|v| args(vec![text(&card(v)), int(100 * (v % 90) as i32)])),
            ok_n: variants(&|v| etf(tuple(vec![atom("ok"), int((v % 20) as i32)]))),
            found: variants(&|v| {
                etf(tuple(vec![
                    text(SKUS[v % SKUS.len()]),
                    int(10 + (v % 6) as i32),
                ]))
            }),
            moneys: variants(&|v| etf(money(100 * (v % 200) as i32))),
            charged: variants(&|v| etf(tuple(vec![atom("ok"), text(&format!("ch_{v}"))]))),
            out_of_stock: etf(tuple(vec![atom("error"), atom("out_of_stock")])),
            not_found: etf(atom("false")),
            ok_200: etf(tuple(vec![atom("ok"), int(200)])),
            // {Reason, Stacktrace} as the runtime stores an exception.
            declined: etf(tuple(vec![
                Term::from(Map::from([
                    (atom("__struct__"), atom("Elixir.Shop.PaymentError")),
                    (atom("__exception__"), atom("true")),
                    (atom("message"), text("card declined")),
                ])),
                list(vec![]),
            ])),
        }
    }
}

/// Writes calls in id order, batched and sealed like the drain.
struct Writer<'v> {
    values: &'v Values,
    batch: Vec<Event>,
    next_id: u64,
    clock: u64,
    random: u64,
}

impl Writer<'_> {
    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    fn enter(&mut self, parent: Option<u64>, pid: u64, m: u64, f: u64, args: &Bytes) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.clock += 50 + self.next_random() % 100;
        let arity = match f {
            names::HANDLE | names::RESERVE | names::ADD | names::CHARGE => 2,
            names::KEYFIND => 3,
            _ => 1,
        };
        self.batch.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1 + (pid % 2) as u16,
            kind: EventKind::Enter(Enter {
                parent: parent.and_then(NonZeroU64::new),
                pid,
                module: m,
                function: f,
                arity,
                args: args.clone(),
                process: None,
                client: None,
            }),
        });
        id
    }

    fn end(&mut self, id: u64, work_ns: u64, outcome: Outcome, value: &Bytes) {
        self.clock += work_ns + self.next_random() % (work_ns / 2 + 1);
        self.batch.push(Event {
            call_id: id,
            time: self.clock,
            scheduler: 1,
            kind: EventKind::End(End {
                outcome,
                tail_calls: 0,
                value: value.clone(),
            }),
        });
    }

    fn request(&mut self, n: u64) {
        use names::*;
        let values = self.values;
        let pid = 1 + n % PROCESSES;
        let v = |salt: u64| ((n.wrapping_mul(2_654_435_761) ^ salt) as usize) % VARIANTS;
        let ok = Outcome::Return;
        let root = self.enter(None, pid, WEB, HANDLE, &values.handle_args[v(1)]);
        let place = self.enter(Some(root), pid, CHECKOUT, PLACE, &values.place_args[v(2)]);
        for salt in [3, 4] {
            let reserve = self.enter(
                Some(place),
                pid,
                INVENTORY,
                RESERVE,
                &values.reserve_args[v(salt)],
            );
            let keyfind = self.enter(
                Some(reserve),
                pid,
                LISTS,
                KEYFIND,
                &values.keyfind_args[v(salt)],
            );
            let missing = v(salt + 10) % 16 == 0;
            let found = if missing {
                &values.not_found
            } else {
                &values.found[v(salt)]
            };
            self.end(keyfind, 300, ok, found);
            let result = if missing {
                &values.out_of_stock
            } else {
                &values.ok_n[v(salt)]
            };
            self.end(reserve, 2_000, ok, result);
        }
        let total = self.enter(Some(place), pid, CHECKOUT, TOTAL, &values.total_args[v(5)]);
        for salt in [6, 7] {
            let add = self.enter(Some(total), pid, MONEY, ADD, &values.add_args[v(salt)]);
            self.end(add, 200, ok, &values.moneys[v(salt)]);
        }
        self.end(total, 500, ok, &values.moneys[v(8)]);
        let charge = self.enter(Some(place), pid, PAYMENT, CHARGE, &values.charge_args[v(9)]);
        if n % 50 == 49 {
            self.end(
                charge,
                8_000,
                Outcome::Exception(Class::Error),
                &values.declined,
            );
            self.end(
                place,
                1_000,
                Outcome::Exception(Class::Error),
                &values.declined,
            );
            self.end(root, 3_000, ok, &values.ok_200);
        } else {
            self.end(charge, 20_000, ok, &values.charged[v(9)]);
            self.end(place, 1_000, ok, &values.ok_n[v(10)]);
            self.end(root, 3_000, ok, &values.ok_200);
        }
    }
}

/// The store of `requests × 10` calls under `dir` (`shop-N`), built the first time and reused
/// after (a `.done` file marks it complete).
pub fn shop_store(dir: &Path, calls: u64) -> PathBuf {
    std::fs::create_dir_all(dir).expect("bench directory");
    let path = dir.join(format!("shop-{calls}"));
    let done = dir.join(format!("shop-{calls}.done"));
    if done.exists() {
        return path;
    }
    let _ = std::fs::remove_dir_all(&path);
    eprintln!("building a store of {calls} calls in {}", path.display());
    let store = Store::open(&path).expect("opening the bench store");
    let info = RunInfo {
        started_unix_ns: 1_800_000_000_000_000_000,
        monotonic_origin_ns: 0,
        erlang_monotonic_ns: 0,
        os_pid: 1,
        node: "bench@host".into(),
        otp_release: "25".into(),
        tool_version: "0.1.0".into(),
    };
    let retention = Retention {
        max_bytes: u64::MAX / 4,
    };
    let mut run = store.begin_run(&info).expect("a run");
    let maintenance = run.maintenance(retention);
    let values = Values::new();
    let mut w = Writer {
        values: &values,
        batch: Vec::with_capacity(8_300),
        next_id: 1,
        clock: 0,
        random: 0x2545_f491_4f6c_dd1d,
    };
    let mut batches = 0u64;
    for n in 0..calls / CALLS_PER_REQUEST {
        w.request(n);
        if w.batch.len() >= 8192 {
            run.write(std::mem::take(&mut w.batch), &Names)
                .expect("writing a batch");
            batches += 1;
            if batches.is_multiple_of(64) {
                run.seal(0, 0).expect("sealing");
                maintenance.run().expect("compacting");
            }
        }
    }
    run.write(std::mem::take(&mut w.batch), &Names)
        .expect("writing the last batch");
    run.finish(0, 0, 0).expect("finishing the run");
    maintenance.run().expect("compacting");
    drop(store);
    std::fs::write(&done, "complete\n").expect("marking the store complete");
    path
}
