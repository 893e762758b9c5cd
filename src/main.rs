//! The `deaap-gen` binary: parse the command line, run, map to an exit code.

use clap::Parser;

/// Compiling allocates many small, short-lived values (YAML nodes, Rego values); mimalloc serves
/// them markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 2's `mi_option_purge_delay` and `mi_option_purge_extend_delay`, by their numbers in
/// `mi_option_e`: the crate names only some of the options. The test below checks the numbers
/// against the options' defaults.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_EXTEND_DELAY: libmimalloc_sys::mi_option_t = 25;

/// How long mimalloc keeps freed memory before it gives it back to the system, in milliseconds,
/// for an environment of `services` services: the square of the thousands of services, from 2 ms
/// up to 100 ms (2 ms below 2,000 services, 4 ms at 2,000, 25 ms at 5,000, 100 ms from 10,000).
///
/// Memory given back is faulted in again when it is used again, and each fresh page costs the
/// kernel a fault and zeroing it; memory kept is resident beside what is live. A small
/// environment gives memory back at once, so that a build of 1,000 services stays within 64 MiB;
/// a large one, whose build runs for seconds, keeps what it frees for longer and spends less of
/// its time faulting pages in again. At 1,000 services a build after a new image peaks at 61 MiB
/// with 2 ms against 64 MiB with 3 ms and 67 MiB with 4 ms, in about the same time; at 10,000
/// services 100 ms takes 2.27 s in 567 MiB against 2.41 s in 475 MiB with 20 ms, and 1,000 ms
/// gains little more (2.20 s in 578 MiB) (README, "Performance").
fn purge_delay(services: usize) -> std::ffi::c_long {
    let thousands = services / 1000;
    std::ffi::c_long::try_from(thousands.saturating_mul(thousands))
        .map_or(100, |ms| ms.clamp(2, 100))
}

/// Sets mimalloc's purge delay for the largest environment found valid so far ([`purge_delay`]).
fn size_allocator_for(services: usize) {
    static LARGEST: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
    let Ok(mut largest) = LARGEST.lock() else {
        return;
    };
    if services <= *largest {
        return;
    }
    *largest = services;
    #[expect(
        unsafe_code,
        reason = "an allocator option is set through its C interface"
    )]
    // SAFETY: stores an aligned integer option, which mimalloc loads whole at each purge; the
    // setters take turns under the lock above.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, purge_delay(services));
    }
}

fn main() -> std::process::ExitCode {
    // mimalloc gives freed pages back to the system 10 ms after a segment's first free, but each
    // further free pushes that back by this many milliseconds: while a build frees memory as fast
    // as it allocates, nothing goes back and the resident peak grows by what was freed. At 0, a
    // build of 1,000 services peaks at 106 MiB instead of 117 MiB in the same time (README,
    // "Performance").
    #[expect(
        unsafe_code,
        reason = "an allocator option is set through its C interface"
    )]
    // SAFETY: sets an integer option that mimalloc reads at every purge, before any thread starts
    // (the options are not guarded for threads setting them at once).
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_EXTEND_DELAY, 0);
    }
    // Once an environment is found valid, the purge delay grows with it, unless the user set it.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
        && std::env::var_os("MIMALLOC_RESET_DELAY").is_none()
    {
        deaap_gen::when_valid(size_allocator_for);
    }
    let cli = match deaap_gen::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; any other usage error is invalid input.
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    std::process::ExitCode::from(deaap_gen::cli::run(cli))
}

#[cfg(test)]
mod tests {
    use super::{PURGE_DELAY, PURGE_EXTEND_DELAY, purge_delay};

    /// The options numbered `PURGE_DELAY` and `PURGE_EXTEND_DELAY` are `purge_delay` and
    /// `purge_extend_delay`: they and the option between them hold mimalloc 2's defaults for
    /// `purge_delay` (10 ms), `arena_purge_mult` (10) and `purge_extend_delay` (1 ms). A mimalloc
    /// that numbers its options otherwise fails here.
    #[test]
    fn the_options_set_are_the_purge_delay_and_its_extension() {
        #[expect(
            unsafe_code,
            reason = "reads allocator options through their C interface"
        )]
        // SAFETY: reads integer options; nothing sets them in this test binary.
        let (delay, arena_purge_mult, extension) = unsafe {
            (
                libmimalloc_sys::mi_option_get(PURGE_DELAY),
                libmimalloc_sys::mi_option_get(PURGE_EXTEND_DELAY - 1),
                libmimalloc_sys::mi_option_get(PURGE_EXTEND_DELAY),
            )
        };
        assert_eq!(PURGE_DELAY, 15);
        if std::env::vars().any(|(k, _)| k.starts_with("MIMALLOC_")) {
            return;
        }
        assert_eq!((delay, arena_purge_mult, extension), (10, 10, 1));
    }

    #[test]
    fn the_purge_delay_grows_with_the_services_within_bounds() {
        for (services, ms) in [
            (0, 2),
            (10, 2),
            (1_000, 2),
            (1_999, 2),
            (2_000, 4),
            (5_000, 25),
            (9_999, 81),
            (10_000, 100),
            (25_000, 100),
            (usize::MAX, 100),
        ] {
            assert_eq!(purge_delay(services), ms, "{services} services");
        }
    }
}
