//! What the pre-flight probe learns about a node (OS, CPU, the login's home) and how garnet names
//! a platform: the facts every procedure resolves the node layout and the binary from.

use crate::inventory::Os;

/// What the pre-flight probe learned about a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub os: Os,
    /// `x86_64`, `aarch64`
    pub arch: String,
    /// The login user's home directory.
    pub home: String,
}

impl Target {
    /// The probe script: one `key=value` per line.
    pub const PROBE: &'static str = "echo \"os=$(uname -s)\"; echo \"arch=$(uname -m)\"; echo \"home=$HOME\"";

    pub fn parse(out: &str) -> Result<Target, String> {
        let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(str::trim);
        let os = match get("os") {
            Some("Darwin") => Os::Macos,
            Some("Linux") => Os::Linux,
            other => return Err(format!("unsupported OS `{}`", other.unwrap_or("?"))),
        };
        let arch = match get("arch").unwrap_or("") {
            "arm64" | "aarch64" => "aarch64",
            "x86_64" | "amd64" => "x86_64",
            a => return Err(format!("unsupported CPU architecture `{a}`")),
        }
        .to_string();
        let home = get("home").filter(|h| h.starts_with('/')).ok_or("no home directory")?.to_string();
        Ok(Target { os, arch, home })
    }

    /// `linux-x86_64`, `macos-aarch64`: the key of `deploy.binaries`.
    pub fn platform(&self) -> String {
        format!("{}-{}", if self.os == Os::Macos { "macos" } else { "linux" }, self.arch)
    }

    /// The node's garnet home as an absolute path.
    pub fn garnet_home(&self, configured: &str) -> String {
        let c = configured.trim_end_matches('/');
        if c == "~" {
            self.home.clone()
        } else if let Some(rest) = c.strip_prefix("~/") {
            format!("{}/{rest}", self.home)
        } else if c.starts_with('/') {
            c.to_string()
        } else {
            format!("{}/{c}", self.home)
        }
    }
}

/// This machine's platform, in [`Target::platform`]'s spelling.
pub fn local_platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_and_paths() {
        let t = Target::parse("os=Darwin\narch=arm64\nhome=/Users/ops\n").unwrap();
        assert_eq!(t.platform(), "macos-aarch64");
        assert_eq!(t.garnet_home("~/.garnet"), "/Users/ops/.garnet");
        assert_eq!(t.garnet_home("/opt/garnet/"), "/opt/garnet");
        assert_eq!(t.garnet_home("garnet"), "/Users/ops/garnet");
        assert!(Target::parse("os=FreeBSD\narch=amd64\nhome=/h").unwrap_err().contains("FreeBSD"));
    }
}
