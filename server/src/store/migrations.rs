//! Versioned schema migrations: `server/migrations/<engine>/NNNN_name.sql`,
//! compiled in. At start a store applies the versions its database lacks, in
//! order, in one transaction that other starting instances wait for, and
//! records each in `schema_migrations`. A second start applies nothing; a
//! database migrated by a newer server is refused rather than misread.

use super::{StoreError, StoreResult};

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    /// Its number: the file's `NNNN`, increasing by one.
    pub version: i64,
    /// The file's name after the number.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $file)),
        }
    };
}

/// SQLite's migrations.
pub const SQLITE: &[Migration] = &[
    migration!(1, "initial", "sqlite/0001_initial.sql"),
    migration!(2, "login_attempts", "sqlite/0002_login_attempts.sql"),
    migration!(
        3,
        "desk_channels_profiles",
        "sqlite/0003_desk_channels_profiles.sql"
    ),
    migration!(4, "dpop_binding", "sqlite/0004_dpop_binding.sql"),
];

/// PostgreSQL's migrations.
pub const POSTGRES: &[Migration] = &[
    migration!(1, "initial", "postgres/0001_initial.sql"),
    migration!(2, "login_attempts", "postgres/0002_login_attempts.sql"),
    migration!(
        3,
        "desk_channels_profiles",
        "postgres/0003_desk_channels_profiles.sql"
    ),
    migration!(4, "dpop_binding", "postgres/0004_dpop_binding.sql"),
];

/// The bookkeeping table (the same on both engines).
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)";

/// The migrations of `all` missing from `applied`, in order. An applied
/// version this server does not know means a newer server migrated the
/// database: an error, never a guess.
pub fn pending<'a>(all: &'a [Migration], applied: &[i64]) -> StoreResult<Vec<&'a Migration>> {
    let newest = all.last().map_or(0, |m| m.version);
    if let Some(unknown) = applied.iter().find(|v| **v > newest) {
        return Err(StoreError(format!(
            "the database has schema version {unknown}, newer than this server's {newest}; \
             run a newer server"
        )));
    }
    Ok(all
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect())
}

/// Wall-clock ms for `applied_at` (bookkeeping only, not a decision).
pub fn applied_at() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one_on_both_engines() {
        for all in [SQLITE, POSTGRES] {
            for (i, m) in all.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", m.name);
                assert!(!m.sql.trim().is_empty());
            }
        }
        let names = |all: &[Migration]| all.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(SQLITE), names(POSTGRES));
    }

    #[test]
    fn pending_skips_applied_versions_and_refuses_newer_ones() {
        let versions = |p: Vec<&Migration>| p.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(pending(POSTGRES, &[]).unwrap()), [1, 2, 3, 4]);
        assert_eq!(versions(pending(POSTGRES, &[1]).unwrap()), [2, 3, 4]);
        assert!(pending(POSTGRES, &[1, 2, 3, 4]).unwrap().is_empty());
        assert!(pending(POSTGRES, &[1, 2, 3, 4, 5]).is_err());
    }
}
