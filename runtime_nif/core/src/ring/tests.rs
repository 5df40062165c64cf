use super::*;
use store::{End, Outcome};

fn event(id: u64, payload: usize) -> Event {
    Event {
        call_id: id,
        time: id,
        scheduler: 1,
        kind: EventKind::End(End {
            outcome: Outcome::Return,
            tail_calls: 0,
            value: store::Bytes::from_vec(vec![0; payload]),
        }),
    }
}

fn drain(ring: &Ring) -> Vec<u64> {
    let mut out = Vec::new();
    for lane in 0..ring.lanes() {
        ring.pop_into(lane, &mut out, usize::MAX);
    }
    out.iter().map(|e| e.call_id).collect()
}

/// Runs `f` on a new thread (a new producer) and returns its result.
fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

#[test]
fn drop_newest_keeps_the_first_events_and_counts_the_rest() {
    // One scheduler lane of 2 and the shared lane of 2, which lends its room.
    let ring = Ring::new(1, 4, usize::MAX, DropPolicy::DropNewest);
    let kept: Vec<bool> = (0..6)
        .map(|i| ring.push(0, event(i, 1), Room::Full))
        .collect();
    assert_eq!(kept, [true, true, true, true, false, false]);
    let c = ring.counts();
    assert_eq!((c.enqueued, c.dropped, c.in_ring), (4, 2, 4));
    assert_eq!(drain(&ring), [0, 1, 2, 3]);
    let c = ring.counts();
    assert_eq!((c.in_ring, c.bytes, c.dequeued), (0, 0, 4));
}

#[test]
fn a_busy_scheduler_uses_the_room_of_the_shared_lane() {
    // Two scheduler lanes of 64 and a shared lane of 128: one busy scheduler gets 192 of 256
    // slots (its lane and the shared one), not its 64.
    let ring = Ring::new(2, 256, usize::MAX, DropPolicy::DropNewest);
    let kept = (0..300)
        .filter(|i| ring.push(0, event(*i, 0), Room::Full))
        .count();
    assert_eq!(kept, 64 + 128);
    // The other scheduler still has its own lane.
    let other = on_thread(|| {
        (0..10)
            .filter(|i| ring.push(1, event(1000 + i, 0), Room::Full))
            .count()
    });
    assert_eq!(other, 10);
}

#[test]
fn threads_beyond_the_scheduler_lanes_share_one_lane() {
    let ring = Ring::new(1, 8, usize::MAX, DropPolicy::DropNewest);
    assert!(ring.push(0, event(1, 0), Room::Full));
    // The scheduler lane is claimed by this thread; another thread gets the shared lane.
    assert!(on_thread(|| ring.push(0, event(2, 0), Room::Full)));
    let mut first = Vec::new();
    ring.pop_into(0, &mut first, 10);
    let mut shared = Vec::new();
    ring.pop_into(1, &mut shared, 10);
    assert_eq!(first.iter().map(|e| e.call_id).collect::<Vec<_>>(), [1]);
    assert_eq!(shared.iter().map(|e| e.call_id).collect::<Vec<_>>(), [2]);
}

#[test]
fn a_lane_is_free_again_when_its_thread_exits() {
    let ring = Ring::new(1, 8, usize::MAX, DropPolicy::DropNewest);
    on_thread(|| assert!(ring.push(0, event(1, 0), Room::Full)));
    on_thread(|| assert!(ring.push(0, event(2, 0), Room::Full)));
    let mut lane0 = Vec::new();
    ring.pop_into(0, &mut lane0, 10);
    assert_eq!(lane0.len(), 2, "the second thread reclaimed lane 0");
}

#[test]
fn drop_oldest_keeps_the_last_events_and_counts_the_evicted() {
    let ring = Ring::new(1, 4, usize::MAX, DropPolicy::DropOldest);
    for i in 0..6 {
        assert!(ring.push(0, event(i, 1), Room::Full));
    }
    let c = ring.counts();
    assert_eq!((c.enqueued, c.dropped, c.in_ring), (6, 2, 4));
    assert_eq!(drain(&ring), [2, 3, 4, 5]);
    let c = ring.counts();
    assert_eq!(c.dequeued, 6);
    assert_eq!(c.bytes, 0);
}

#[test]
fn the_byte_budget_bounds_large_events() {
    let big = event_bytes(&event(0, 10_000));
    for policy in [DropPolicy::DropNewest, DropPolicy::DropOldest] {
        // One scheduler lane (and, for drop-newest, the shared lane): budget split per lane.
        let lanes = if policy == DropPolicy::DropNewest {
            2
        } else {
            1
        };
        let ring = Ring::new(1, 1000 * lanes, big * 3 * lanes, policy);
        let kept = (0..10)
            .filter(|i| ring.push(0, event(*i, 10_000), Room::Full))
            .count();
        assert!(ring.counts().bytes as usize <= big * 3 * lanes);
        match policy {
            // Its lane's three, and the shared lane's three it borrows.
            DropPolicy::DropNewest => assert_eq!(kept, 6),
            DropPolicy::DropOldest => assert_eq!(drain(&ring), [7, 8, 9]),
        }
    }
}

#[test]
fn marks_track_what_the_drain_let_out() {
    let ring = Ring::new(2, 8, usize::MAX, DropPolicy::DropNewest);
    for i in 0..2 {
        assert!(ring.push(0, event(i, 0), Room::Full));
    }
    on_thread(|| assert!(ring.push(1, event(10, 0), Room::Full)));
    let marks = ring.enqueued_marks();
    assert_eq!(marks, [2, 1, 0]);
    assert!(!ring.passed(0, marks[0]));
    let mut out = Vec::new();
    ring.pop_into(0, &mut out, 10);
    assert!(ring.passed(0, marks[0]));
    assert!(!ring.passed(1, marks[1]));
}

#[test]
fn concurrent_producers_lose_nothing_while_there_is_room() {
    for policy in [DropPolicy::DropNewest, DropPolicy::DropOldest] {
        let ring = Ring::new(2, 1 << 16, usize::MAX, policy);
        std::thread::scope(|s| {
            for t in 0..4usize {
                let ring = &ring;
                s.spawn(move || {
                    for i in 0..5000 {
                        assert!(ring.push(t, event(t as u64 * 100_000 + i, 8), Room::Full));
                    }
                });
            }
        });
        let mut ids = drain(&ring);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 20_000, "{policy:?}");
    }
}

#[test]
fn new_calls_leave_a_quarter_of_the_lane_to_the_ends_of_recorded_calls() {
    // One scheduler lane of 8 events and the shared lane of 8.
    let ring = Ring::new(1, 16, usize::MAX, DropPolicy::DropNewest);
    let starts = (0..16)
        .filter(|i| ring.push(0, event(*i, 0), Room::KeepQuarter))
        .count();
    assert_eq!(starts, 6 + 6, "three quarters of each lane take new calls");
    for end in 100..104 {
        assert!(ring.push(0, event(end, 0), Room::Full));
    }
    assert!(
        !ring.push(0, event(104, 0), Room::Full),
        "the lanes are full"
    );
    ring.count_dropped(0);
    let c = ring.counts();
    assert_eq!((c.enqueued, c.dropped), (16, 4 + 1 + 1));
    // Once drained, new calls get in again.
    assert_eq!(drain(&ring).len(), 16);
    assert!(ring.push(0, event(200, 0), Room::KeepQuarter));
}

#[test]
fn new_calls_leave_a_quarter_of_the_byte_budget_too() {
    // Two lanes of 16 KB each; an event weighs a little over 3 KB.
    let ring = Ring::new(1, 1000, 2 * 16384, DropPolicy::DropNewest);
    let starts = (0..10)
        .filter(|i| ring.push(0, event(*i, 3000), Room::KeepQuarter))
        .count();
    assert_eq!(starts, 3 + 3, "3 fit in 12 KB of each lane, a 4th does not");
    assert!(ring.push(0, event(9, 3000), Room::Full));
}
