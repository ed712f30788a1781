//! What `ticker status` and `/metrics` show of the lease: the role, the lease holder and
//! its token, and the last tick of the shared schedule.
//!
//! Owns the figures' shape ([`ClusterView`], part of the status JSON) and their lines in
//! the table and in the Prometheus text. The master fills it from its [`super::lease`].

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::lease::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub role: Role,
    /// The Redis URL, without its password, and the schedule's key.
    pub redis: String,
    pub key: String,
    /// `host:pid` of the lease holder's master, as last seen.
    pub holder: Option<String>,
    /// The holder's fencing token.
    pub token: Option<u64>,
    /// The last tick delivered across the cluster, as far as this instance knows.
    pub last_tick: Option<u64>,
}

fn or_dash<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl ClusterView {
    /// The status table's line.
    pub fn table_line(&self) -> String {
        format!(
            "cluster  {}  key {} on {}  holder {} (token {})  last tick {}",
            self.role.name(),
            self.key,
            self.redis,
            or_dash(&self.holder),
            or_dash(&self.token),
            or_dash(&self.last_tick),
        )
    }

    /// The lease's metrics, in Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP ticker_cluster_role The role of this instance: leader (ticks), follower, or no_store (Redis does not answer)."
        );
        let _ = writeln!(out, "# TYPE ticker_cluster_role gauge");
        for role in [Role::Leader, Role::Follower, Role::NoStore] {
            let name = serde_json::to_value(role).expect("serializes");
            let _ = writeln!(
                out,
                "ticker_cluster_role{{role={name}}} {}",
                u8::from(role == self.role)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ticker_cluster_lease_token The fencing token of the lease holder (grows with every new leader)."
        );
        let _ = writeln!(out, "# TYPE ticker_cluster_lease_token gauge");
        if let Some(token) = self.token {
            let _ = writeln!(
                out,
                "ticker_cluster_lease_token{{holder=\"{}\",key=\"{}\"}} {token}",
                label(self.holder.as_deref().unwrap_or("")),
                label(&self.key)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ticker_cluster_last_tick The last tick delivered across the cluster, as far as this instance knows."
        );
        let _ = writeln!(out, "# TYPE ticker_cluster_last_tick gauge");
        if let Some(last) = self.last_tick {
            let _ = writeln!(out, "ticker_cluster_last_tick {last}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(role: Role) -> ClusterView {
        ClusterView {
            role,
            redis: "redis://:***@10.0.0.5:6379/0".into(),
            key: "ticker:app".into(),
            holder: Some("web-2:4242".into()),
            token: Some(7),
            last_tick: Some(1234),
        }
    }

    #[test]
    fn the_table_line_names_role_holder_token_and_last_tick() {
        assert_eq!(
            view(Role::Follower).table_line(),
            "cluster  follower  key ticker:app on redis://:***@10.0.0.5:6379/0  holder web-2:4242 (token 7)  last tick 1234"
        );
        let unknown = ClusterView {
            holder: None,
            token: None,
            last_tick: None,
            ..view(Role::NoStore)
        };
        assert!(
            unknown
                .table_line()
                .contains("no store  key ticker:app on redis://:***@10.0.0.5:6379/0  holder - (token -)  last tick -"),
            "{}",
            unknown.table_line()
        );
    }

    #[test]
    fn prometheus_has_one_role_set_and_the_lease() {
        let text = view(Role::Leader).prometheus();
        for line in [
            "ticker_cluster_role{role=\"leader\"} 1",
            "ticker_cluster_role{role=\"follower\"} 0",
            "ticker_cluster_role{role=\"no_store\"} 0",
            "ticker_cluster_lease_token{holder=\"web-2:4242\",key=\"ticker:app\"} 7",
            "ticker_cluster_last_tick 1234",
            "# TYPE ticker_cluster_role gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn views_survive_json() {
        let v = view(Role::NoStore);
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"role\":\"no_store\""), "{json}");
        assert_eq!(serde_json::from_str::<ClusterView>(&json).unwrap(), v);
    }
}
