//! Interleaving: every round runs each variant once, in a fresh random order, so that a noisy
//! neighbour slows every variant alike and the ratios hold.

use graceful_bench::Rng;

/// Runs `each` on every item, `rounds` times, interleaved (A B C D, then C A D B…). Returns
/// the failures, each prefixed with the round; stops early if one item fails too often.
pub fn interleaved<T: Copy + std::fmt::Debug>(
    what: &str,
    items: &[T],
    rounds: usize,
    mut each: impl FnMut(T) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    let mut rng = Rng::seeded();
    let mut order: Vec<T> = items.to_vec();
    let mut failures = Vec::new();
    for round in 1..=rounds {
        eprint!("\r{what}: round {round}/{rounds}   ");
        rng.shuffle(&mut order);
        for &item in &order {
            if let Err(error) = each(item) {
                eprintln!("\n{what}: {item:?}, round {round}: {error}");
                failures.push(format!("round {round}, {item:?}: {error}"));
                if failures.len() > rounds / 5 + 2 {
                    return Err(format!(
                        "{what}: too many failures:\n{}",
                        failures.join("\n")
                    ));
                }
            }
        }
    }
    eprintln!();
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = Rng::from_seed(42);
        let mut items: Vec<u32> = (0..20).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn every_item_runs_every_round() {
        let mut seen = Vec::new();
        let failures = interleaved("test", &[1, 2, 3], 4, |item| {
            seen.push(item);
            Ok(())
        })
        .unwrap();
        assert!(failures.is_empty());
        assert_eq!(seen.len(), 12);
        for chunk in seen.chunks(3) {
            let mut round = chunk.to_vec();
            round.sort_unstable();
            assert_eq!(round, [1, 2, 3]);
        }
    }
}
