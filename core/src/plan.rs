//! Part planning: how a file of a given size is cut into parts under a provider's rules.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rules::{PartSizeRule, UploadRules};

/// One part of a plan: its 0-based index, where it starts in the file and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSpec {
    /// 0-based index of the part.
    pub index: u32,
    /// Byte offset in the source.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// How a file is cut into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPlan {
    file_size: u64,
    part_size: u64,
    count: u32,
}

impl PartPlan {
    /// Plans a file of `file_size` bytes under `rules`, with an optional requested part size
    /// (refused when the rules do not allow it).
    pub fn new(file_size: u64, rules: &UploadRules, requested: Option<u64>) -> Result<Self> {
        if file_size == 0 {
            return Err(Error::invalid_input("the file is empty").with_platform(&rules.platform));
        }
        let max_parts = u64::from(rules.max_parts.max(1));
        let part_size = match rules.part_size {
            PartSizeRule::Exact(size) => {
                if let Some(req) = requested {
                    if req != size {
                        let (size, req) = crate::units::human_sizes(size, req);
                        return Err(Error::invalid_input(format!(
                            "{} requires parts of exactly {size}, not {req}",
                            rules.platform
                        )));
                    }
                }
                size
            }
            PartSizeRule::Range {
                min,
                max,
                preferred,
            } => {
                let start = match requested {
                    Some(req) if req < min || req > max => {
                        let (min, max, req) = (
                            crate::units::human_size(min),
                            crate::units::human_size(max),
                            crate::units::human_size(req),
                        );
                        return Err(Error::invalid_input(format!(
                            "{} accepts parts of {min} to {max}, not {req}",
                            rules.platform
                        )));
                    }
                    Some(req) => req,
                    None => preferred.clamp(min, max),
                };
                // Grow (in whole MiB) until the part count fits the limit.
                let needed = file_size.div_ceil(max_parts);
                if needed > start {
                    needed.div_ceil(1 << 20).saturating_mul(1 << 20).min(max)
                } else {
                    start
                }
            }
        };
        if part_size == 0 {
            return Err(Error::invalid_input("part size must be positive"));
        }
        let count = file_size.div_ceil(part_size);
        if count > max_parts {
            return Err(Error::invalid_input(format!(
                "a file of {} needs {count} parts of {}, more than the {max_parts} {} allows",
                crate::units::human_size(file_size),
                crate::units::human_size(part_size),
                rules.platform
            )));
        }
        // `count <= max_parts <= u32::MAX`, so the conversion cannot fail.
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Ok(PartPlan {
            file_size,
            part_size,
            count,
        })
    }

    /// This plan with its parts evened out for `concurrency` parts in flight.
    ///
    /// Parts in flight share a link and finish together, so when a file needs more than one
    /// round of `concurrency` parts, a last round of a few parts runs alone on a link the
    /// others filled: each connection carries only its own share (a 95 MiB Lazada upload in
    /// 32 blocks of 3 MiB, 10 in flight, sent its last 2 blocks on 2 of the link's 5
    /// connections' worth, about 0.2 s of a 2.9 s upload). Where the rule leaves the size
    /// free ([`PartSizeRule::Range`]), the count becomes a whole number of rounds: the largest
    /// not above it (the parts grow, at most to the rule's maximum), else the next one up (the
    /// parts shrink, at least to its minimum), all of one size but the last. A plan that fits
    /// one round or is already whole, an exact rule, or a plan no whole count satisfies, is
    /// returned as it is. Parts are streamed from the file in small chunks, so larger parts
    /// cost no memory.
    pub fn balanced(self, rules: &UploadRules, concurrency: usize) -> PartPlan {
        let PartSizeRule::Range { min, max, .. } = rules.part_size else {
            return self;
        };
        let c = concurrency as u64;
        let count = u64::from(self.count);
        if c <= 1 || count <= c || count.is_multiple_of(c) {
            return self;
        }
        let max_parts = u64::from(rules.max_parts.max(1));
        let rounds = count / c;
        for target in [rounds * c, (rounds + 1) * c] {
            let size = self.file_size.div_ceil(target);
            let parts = self.file_size.div_ceil(size);
            if size < min || size > max || parts > max_parts {
                continue;
            }
            // `parts <= max_parts <= u32::MAX`.
            let count = u32::try_from(parts).unwrap_or(u32::MAX);
            return PartPlan {
                file_size: self.file_size,
                part_size: size,
                count,
            };
        }
        self
    }

    /// Size of the planned file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Size of every part but the last.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// Number of parts.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The part with 0-based `index`, or `None` past the end.
    pub fn part(&self, index: u32) -> Option<PartSpec> {
        if index >= self.count {
            return None;
        }
        let offset = u64::from(index) * self.part_size;
        let len = self.part_size.min(self.file_size - offset);
        Some(PartSpec { index, offset, len })
    }

    /// Every part in order.
    pub fn parts(&self) -> impl Iterator<Item = PartSpec> + '_ {
        (0..self.count).filter_map(move |i| self.part(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    fn rules(part_size: PartSizeRule, max_parts: u32, max_file: u64) -> UploadRules {
        UploadRules {
            max_parts,
            ..UploadRules::new("test", part_size, max_file)
        }
    }

    #[test]
    fn exact_4mib_boundaries() {
        let r = rules(PartSizeRule::Exact(4 * MIB), 10_000, 30 * MIB);
        let cases = [
            (1, 1, 1),
            (4 * MIB - 1, 1, 4 * MIB - 1),
            (4 * MIB, 1, 4 * MIB),
            (4 * MIB + 1, 2, 1),
            (30 * MIB, 8, 2 * MIB),
            (30 * MIB + 1, 8, 2 * MIB + 1),
        ];
        for (size, count, last) in cases {
            let plan = PartPlan::new(size, &r, None).unwrap();
            assert_eq!(plan.count(), count, "size {size}");
            let parts: Vec<_> = plan.parts().collect();
            assert_eq!(parts.last().unwrap().len, last, "size {size}");
            assert!(parts[..parts.len() - 1].iter().all(|p| p.len == 4 * MIB));
        }
    }

    #[test]
    fn empty_file_is_invalid_input() {
        let r = rules(PartSizeRule::Exact(4 * MIB), 10, 30 * MIB);
        let err = PartPlan::new(0, &r, None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn exact_rule_refuses_other_sizes() {
        let r = rules(PartSizeRule::Exact(4 * MIB), 10, 30 * MIB);
        let err = PartPlan::new(10, &r, Some(3 * MIB)).unwrap_err();
        // Sizes in human units wherever a limit is named.
        assert!(
            err.message()
                .ends_with("requires parts of exactly 4.0 MiB, not 3.0 MiB"),
            "{err}"
        );
        assert!(PartPlan::new(10, &r, Some(4 * MIB)).is_ok());
    }

    #[test]
    fn range_grows_to_respect_part_limit() {
        let r = rules(
            PartSizeRule::Range {
                min: MIB,
                max: 5 * 1024 * MIB,
                preferred: 8 * MIB,
            },
            10_000,
            u64::MAX,
        );
        let size = 100_000 * MIB; // would need 12,500 parts of 8 MiB
        let plan = PartPlan::new(size, &r, None).unwrap();
        assert!(plan.count() <= 10_000);
        assert_eq!(plan.part_size() % MIB, 0);
        assert_eq!(plan.part_size(), 10 * MIB);
    }

    #[test]
    fn too_many_parts_is_refused() {
        let r = rules(PartSizeRule::Exact(MIB), 3, u64::MAX);
        assert!(PartPlan::new(3 * MIB, &r, None).is_ok());
        assert!(PartPlan::new(3 * MIB + 1, &r, None).is_err());
    }

    #[test]
    fn balanced_plans_fill_their_last_round() {
        // Lazada's rule: 64 KiB to 5 MiB, 3 MiB preferred.
        let r = rules(
            PartSizeRule::Range {
                min: 64 << 10,
                max: 5 * MIB,
                preferred: 3 * MIB,
            },
            10_000,
            u64::MAX,
        );
        let plan = PartPlan::new(95 * MIB, &r, None).unwrap();
        assert_eq!(plan.count(), 32);
        let even = plan.balanced(&r, 10);
        // 30 blocks of about 3.17 MiB: three full rounds.
        assert_eq!(
            (even.count(), even.part_size()),
            (30, (95 * MIB).div_ceil(30))
        );
        assert_eq!(even.parts().map(|p| p.len).sum::<u64>(), 95 * MIB);
        // One round, a whole number of rounds, one part at a time, an exact rule: as planned.
        for (size, c) in [(20 * MIB, 10), (60 * MIB, 10), (95 * MIB, 1)] {
            let plan = PartPlan::new(size, &r, None).unwrap();
            assert_eq!(plan.balanced(&r, c), plan);
        }
        let exact = rules(PartSizeRule::Exact(4 * MIB), 10_000, u64::MAX);
        let plan = PartPlan::new(95 * MIB, &exact, None).unwrap();
        assert_eq!(plan.balanced(&exact, 10), plan);
        // Growing would pass the maximum (3 MiB): the parts shrink to a round of 40.
        let tight = rules(
            PartSizeRule::Range {
                min: MIB,
                max: 3 * MIB,
                preferred: 3 * MIB,
            },
            10_000,
            u64::MAX,
        );
        let even = PartPlan::new(95 * MIB, &tight, None)
            .unwrap()
            .balanced(&tight, 10);
        assert_eq!(even.count(), 40);
    }

    proptest! {
        /// A balanced plan keeps the rule's bounds and tiles the file, and its count is a
        /// whole number of rounds or the plan is unchanged.
        #[test]
        fn balanced_plans_stay_in_bounds(
            size in 1u64..=400 * MIB,
            preferred in 1u64..6,
            concurrency in 1usize..16,
        ) {
            let r = rules(PartSizeRule::Range { min: MIB, max: 5 * MIB, preferred: preferred * MIB }, 10_000, u64::MAX);
            let plan = PartPlan::new(size, &r, None).unwrap();
            let even = plan.balanced(&r, concurrency);
            prop_assert!(even.part_size() >= MIB && even.part_size() <= 5 * MIB);
            prop_assert!(even.count() <= 10_000);
            prop_assert_eq!(even.parts().map(|p| p.len).sum::<u64>(), size);
            let last = even.part(even.count() - 1).map(|p| p.len).unwrap_or(0);
            prop_assert!(last > 0 && last <= even.part_size());
            let c = concurrency as u32;
            prop_assert!(even == plan || even.count().is_multiple_of(c),
                "{:?} -> {:?}", plan, even);
        }

        #[test]
        fn parts_tile_the_file(size in 1u64..200 * MIB, part in 1u64..16 * MIB) {
            let r = rules(PartSizeRule::Exact(part), u32::MAX, u64::MAX);
            let plan = PartPlan::new(size, &r, None).unwrap();
            let mut next = 0;
            for (i, p) in plan.parts().enumerate() {
                prop_assert_eq!(p.index as usize, i);
                prop_assert_eq!(p.offset, next);
                prop_assert!(p.len > 0 && p.len <= part);
                if (p.index + 1) < plan.count() { prop_assert_eq!(p.len, part); }
                next += p.len;
            }
            prop_assert_eq!(next, size);
        }

        /// Every size a range rule can cover (up to max_parts × max) gets a plan within the
        /// bounds: no generated size may be refused, so every case checks the assertions.
        #[test]
        fn range_plans_stay_in_bounds(
            size in 1u64..=10_000 * 5 * 1024 * MIB,
            preferred in 1u64..64,
        ) {
            let r = rules(PartSizeRule::Range { min: MIB, max: 5 * 1024 * MIB, preferred: preferred * MIB }, 10_000, u64::MAX);
            let plan = PartPlan::new(size, &r, None);
            prop_assert!(plan.is_ok(), "size {} refused: {:?}", size, plan.err());
            let plan = plan.unwrap();
            prop_assert!(plan.count() <= 10_000);
            prop_assert!(plan.part_size() >= MIB && plan.part_size() <= 5 * 1024 * MIB);
            prop_assert!(u64::from(plan.count()) * plan.part_size() >= size);
            prop_assert_eq!(plan.file_size(), size);
            // The plan grows past the preferred size only when the part limit forces it.
            if size.div_ceil(preferred * MIB) <= 10_000 {
                prop_assert_eq!(plan.part_size(), preferred * MIB);
            }
            // The last part holds the remainder, and is never empty.
            let last = plan.part(plan.count() - 1).map(|p| p.len).unwrap_or(0);
            prop_assert!(last > 0 && last <= plan.part_size());
        }

        /// Sizes past what max_parts × max can cover are refused as invalid input, never
        /// planned with more parts than allowed.
        #[test]
        fn range_plans_refuse_what_no_part_size_covers(
            extra in 1u64..u64::MAX / 4,
            preferred in 1u64..64,
        ) {
            let cap = 10_000 * 5 * 1024 * MIB;
            let r = rules(PartSizeRule::Range { min: MIB, max: 5 * 1024 * MIB, preferred: preferred * MIB }, 10_000, u64::MAX);
            let err = PartPlan::new(cap + extra, &r, None);
            prop_assert!(err.is_err(), "size {} planned", cap + extra);
            prop_assert_eq!(err.err().map(|e| e.kind()), Some(crate::ErrorKind::InvalidInput));
        }
    }
}
