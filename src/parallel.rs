//! Work spread over the machine's cores, with results in a fixed order: what runs in parallel
//! never changes what is written.

/// [`map`] when there are at least `from` items; else on this thread, where starting threads
/// would cost more than the work (an output folder of a few dozen files).
pub fn map_from<T: Sync, R: Send>(
    from: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() < from {
        items.iter().map(work).collect()
    } else {
        map(items, work)
    }
}

/// How many threads the machine runs at once (1 when it cannot tell).
#[must_use]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `work` on every item, spread over the machine's cores; the results in the items' order.
pub fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = cores().min(items.len());
    if workers <= 1 {
        return items.iter().map(&work).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let share = || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            mine.push((i, work(item)));
        }
        mine
    };
    // This thread takes a share too: what it freed before (the load, the validation) is reused
    // rather than left beside the new threads' memory.
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(share)).collect();
        let mut done = share();
        for h in handles {
            done.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        done
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// [`map_from`] for work on files listed by path: each core takes one run of consecutive items
/// instead of the next item in turn, so the cores work in different folders rather than taking
/// turns at one folder's lock. Linking the 30,092 files of 10,000 services into a new tree took
/// 219–268 ms this way on 2 cores and ext4, against 321–459 ms item by item and 383–433 ms on one
/// core.
pub fn map_runs_from<T: Sync, R: Send>(
    from: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = cores().min(items.len());
    if items.len() < from || workers <= 1 {
        return items.iter().map(work).collect();
    }
    let run = items.len().div_ceil(workers);
    let work = &work;
    std::thread::scope(|scope| {
        let mut runs = items.chunks(run);
        let first = runs.next().unwrap_or_default();
        let handles: Vec<_> = runs
            .map(|r| scope.spawn(move || r.iter().map(work).collect::<Vec<R>>()))
            .collect();
        let mut done: Vec<R> = first.iter().map(work).collect();
        for h in handles {
            done.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        done
    })
}

#[cfg(test)]
mod tests {
    use super::{map, map_runs_from};

    /// Each core takes a run of consecutive items, the calling thread the first; the results come
    /// in the items' order.
    #[test]
    fn runs_of_consecutive_items_keep_their_order() {
        let items: Vec<u32> = (0..1001).collect();
        let caller = std::thread::current().id();
        let done = map_runs_from(2, &items, |i| (i * 3, std::thread::current().id()));
        let tripled: Vec<u32> = done.iter().map(|(t, _)| *t).collect();
        assert_eq!(tripled, items.iter().map(|i| i * 3).collect::<Vec<_>>());
        assert_eq!(done[0].1, caller);
        // Each thread's items are one run: the thread changes at most once per other core.
        let changes = done.windows(2).filter(|w| w[0].1 != w[1].1).count();
        assert!(changes < super::cores(), "{changes} changes of thread");
        if super::cores() > 1 {
            assert_ne!(done[1000].1, caller);
        }
        assert_eq!(map_runs_from(2000, &items, |i| *i), items);
        assert!(map_runs_from(0, &[] as &[u8], |b| *b).is_empty());
    }

    /// The results come in the items' order however the work was shared, and the calling thread
    /// takes a share when there are more items than threads.
    #[test]
    fn results_keep_the_items_order_and_the_caller_works_too() {
        let items: Vec<u64> = (0..200).collect();
        let caller = std::thread::current().id();
        let done = map(&items, |i| {
            // Uneven work, so the threads finish out of order.
            let spin: u64 = (0..(i % 7) * 1000).sum();
            (i * 2, spin, std::thread::current().id())
        });
        let doubled: Vec<u64> = done.iter().map(|(d, _, _)| *d).collect();
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(done.iter().any(|(_, _, t)| *t == caller));
        assert!(map(&[] as &[u8], |b| *b).is_empty());
    }
}
