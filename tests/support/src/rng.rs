//! A small deterministic random generator whose seed a failing run prints.

use std::time::{SystemTime, UNIX_EPOCH};

/// A small deterministic random generator (splitmix64): the seed is printed by the tests so a
/// failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `seed_var` if set (to replay a run), else from the clock.
    pub fn from_env(seed_var: &str) -> Rng {
        let seed = match std::env::var(seed_var) {
            Ok(text) => text
                .parse()
                .unwrap_or_else(|_| panic!("{seed_var}={text:?} is not a u64")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("the clock is after 1970")
                .as_nanos() as u64,
        };
        println!("random seed: {seed} (replay with {seed_var}={seed})");
        Rng(seed)
    }

    /// A generator seeded with `seed` (one per task, from a generator seeded by
    /// [`from_env`](Self::from_env)).
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}
