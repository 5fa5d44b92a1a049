//! Hardware and OS facts: one probe script per node, parsed here.
//!
//! The probe runs with `LC_ALL=C` and prints sections (`== name` lines) of raw command output —
//! `sysctl`, `sw_vers`, `ifconfig`, `df` (and `system_profiler` when `sysctl` lacks the per-level
//! core counts) on macOS; `/proc`, `/sys` and `df` on Linux. Parsing happens here, not on the node,
//! so the parsers are tested on captured real outputs (`shared/fixtures/macos`) and run for real
//! against the Linux nodes in CI.

use std::collections::BTreeMap;

use serde::Serialize;

/// The probe, as one POSIX shell script.
pub const PROBE: &str = r#"LC_ALL=C; export LC_ALL
echo "== uname"; uname -s; uname -m; uname -r
case "$(uname -s)" in
Darwin)
  echo "== sysctl"
  sysctl hw.model hw.memsize hw.ncpu machdep.cpu.brand_string hw.perflevel0.physicalcpu hw.perflevel1.physicalcpu 2>/dev/null
  if ! sysctl -n hw.perflevel0.physicalcpu >/dev/null 2>&1; then
    echo "== system_profiler"; system_profiler SPHardwareDataType 2>/dev/null
  fi
  echo "== sw_vers"; sw_vers 2>/dev/null
  echo "== df"; df -kP "$HOME" 2>/dev/null
  i=$(route -n get default 2>/dev/null | awk '/interface:/{print $2}')
  if [ -n "$i" ]; then echo "== ifconfig"; ifconfig "$i" 2>/dev/null; fi
  ;;
Linux)
  echo "== os-release"; cat /etc/os-release 2>/dev/null
  echo "== cpu"; grep -m1 '^model name' /proc/cpuinfo 2>/dev/null; echo "processors: $(nproc 2>/dev/null)"
  echo "== meminfo"; cat /proc/meminfo
  echo "== df"; df -kP "$HOME" 2>/dev/null
  echo "== net"
  for d in /sys/class/net/*; do
    n=${d##*/}; [ "$n" = lo ] && continue
    [ -e "$d/device" ] || continue
    echo "$n $(cat "$d/speed" 2>/dev/null || echo -) $(cat "$d/operstate" 2>/dev/null || echo -)"
  done
  ;;
esac
"#;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Facts {
    /// `macos`, `linux`, or the kernel name for anything else.
    pub os: String,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    /// Apple chip without the vendor (`M4 Pro`), or the CPU model elsewhere.
    pub chip: Option<String>,
    /// `Mac16,1` on macOS.
    pub model: Option<String>,
    pub cores: Option<u32>,
    pub performance_cores: Option<u32>,
    pub efficiency_cores: Option<u32>,
    pub memory_bytes: Option<u64>,
    /// Free space where `garnet_home` lives (the user's home).
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    /// The interface with the default route (macOS) or the first wired one up (Linux).
    pub link: Option<String>,
    pub link_speed_mbps: Option<u64>,
}

/// Splits probe output into its `== name` sections.
pub fn sections(out: &str) -> BTreeMap<&str, &str> {
    let mut map = BTreeMap::new();
    let mut name: Option<&str> = None;
    let mut start = 0;
    let mut offset = 0;
    for line in out.split_inclusive('\n') {
        if let Some(n) = line.strip_prefix("== ") {
            if let Some(prev) = name {
                map.insert(prev, &out[start..offset]);
            }
            name = Some(n.trim());
            start = offset + line.len();
        }
        offset += line.len();
    }
    if let Some(prev) = name {
        map.insert(prev, &out[start..]);
    }
    map
}

/// Parses the whole probe output.
pub fn parse(out: &str) -> Result<Facts, String> {
    let s = sections(out);
    let uname = s.get("uname").ok_or("the probe printed no `uname` section")?;
    let mut u = uname.lines().map(str::trim);
    let kernel_name = u.next().unwrap_or_default().to_string();
    let mut f = Facts {
        arch: u.next().unwrap_or_default().to_string(),
        kernel: u.next().map(str::to_string),
        ..Default::default()
    };
    match kernel_name.as_str() {
        "Darwin" => {
            f.os = "macos".into();
            let kv = parse_sysctl(s.get("sysctl").copied().unwrap_or(""));
            f.model = kv.get("hw.model").cloned();
            f.memory_bytes = kv.get("hw.memsize").and_then(|v| v.parse().ok());
            f.cores = kv.get("hw.ncpu").and_then(|v| v.parse().ok());
            f.chip = kv.get("machdep.cpu.brand_string").map(|b| chip_name(b));
            f.performance_cores = kv.get("hw.perflevel0.physicalcpu").and_then(|v| v.parse().ok());
            f.efficiency_cores = kv.get("hw.perflevel1.physicalcpu").and_then(|v| v.parse().ok());
            if let Some(sp) = s.get("system_profiler") {
                let hw = parse_system_profiler(sp);
                f.chip = f.chip.or(hw.chip);
                f.model = f.model.or(hw.model);
                f.cores = f.cores.or(hw.cores);
                f.performance_cores = f.performance_cores.or(hw.performance_cores);
                f.efficiency_cores = f.efficiency_cores.or(hw.efficiency_cores);
                f.memory_bytes = f.memory_bytes.or(hw.memory_bytes);
            }
            f.os_version = s.get("sw_vers").and_then(|t| parse_sw_vers(t));
            if let Some(ifc) = s.get("ifconfig") {
                f.link = ifc.split(':').next().map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
                f.link_speed_mbps = parse_ifconfig_media(ifc);
            }
        }
        "Linux" => {
            f.os = "linux".into();
            f.os_version = s.get("os-release").and_then(|t| parse_os_release(t));
            if let Some(cpu) = s.get("cpu") {
                for line in cpu.lines() {
                    if let Some((k, v)) = line.split_once(':') {
                        match k.trim() {
                            "model name" => f.chip = Some(v.trim().to_string()),
                            "processors" => f.cores = v.trim().parse().ok(),
                            _ => {}
                        }
                    }
                }
            }
            f.memory_bytes = s.get("meminfo").and_then(|t| crate::telemetry::linux::meminfo_bytes(t, "MemTotal"));
            if let Some(net) = s.get("net") {
                let (link, speed) = parse_linux_net(net);
                f.link = link;
                f.link_speed_mbps = speed;
            }
        }
        other => f.os = other.to_ascii_lowercase(),
    }
    if let Some(df) = s.get("df")
        && let Some((total, free)) = parse_df(df)
    {
        f.disk_total_bytes = Some(total);
        f.disk_free_bytes = Some(free);
    }
    Ok(f)
}

/// `Apple M4 Pro` → `M4 Pro`.
fn chip_name(brand: &str) -> String {
    brand.trim().strip_prefix("Apple ").unwrap_or(brand.trim()).to_string()
}

/// `key: value` lines (also `key = value`, as older sysctl prints).
pub fn parse_sysctl(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": ").or_else(|| l.split_once(" = ")))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[derive(Debug, Default, PartialEq)]
pub struct SpHardware {
    pub chip: Option<String>,
    pub model: Option<String>,
    pub cores: Option<u32>,
    pub performance_cores: Option<u32>,
    pub efficiency_cores: Option<u32>,
    pub memory_bytes: Option<u64>,
}

/// `system_profiler SPHardwareDataType` (text form; tolerant of stderr lines mixed in).
pub fn parse_system_profiler(text: &str) -> SpHardware {
    let mut hw = SpHardware::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once(": ") else { continue };
        let v = v.trim();
        match k {
            "Chip" => hw.chip = Some(chip_name(v)),
            "Model Identifier" => hw.model = Some(v.to_string()),
            "Total Number of Cores" => {
                // `10 (4 Performance and 6 Efficiency)`; macOS 15 writes them lower case.
                let mut words = v.split(|c: char| c == '(' || c == ')' || c.is_whitespace()).filter(|w| !w.is_empty());
                hw.cores = words.next().and_then(|n| n.parse().ok());
                let words: Vec<&str> = words.collect();
                for w in words.windows(2) {
                    match w[1].to_ascii_lowercase().as_str() {
                        "performance" => hw.performance_cores = w[0].parse().ok(),
                        "efficiency" => hw.efficiency_cores = w[0].parse().ok(),
                        _ => {}
                    }
                }
            }
            "Memory" => hw.memory_bytes = parse_size(v),
            _ => {}
        }
    }
    hw
}

/// `24 GB` → bytes (binary units, as macOS means them for RAM).
fn parse_size(v: &str) -> Option<u64> {
    let mut it = v.split_whitespace();
    let n: f64 = it.next()?.parse().ok()?;
    let mult: u64 = match it.next()? {
        "TB" => 1 << 40,
        "GB" => 1 << 30,
        "MB" => 1 << 20,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

fn parse_sw_vers(text: &str) -> Option<String> {
    let kv: BTreeMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim(), v.trim())).collect();
    let name = kv.get("ProductName")?;
    let ver = kv.get("ProductVersion")?;
    Some(match kv.get("BuildVersion") {
        Some(b) => format!("{name} {ver} ({b})"),
        None => format!("{name} {ver}"),
    })
}

fn parse_os_release(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim().trim_matches('"').to_string())
}

/// `media: autoselect (10Gbase-T <full-duplex>)` → 10000.
pub fn parse_ifconfig_media(text: &str) -> Option<u64> {
    let media = text.lines().find_map(|l| l.trim().strip_prefix("media:"))?;
    let inner = media.split_once('(').map(|(_, r)| r).unwrap_or(media);
    let word = inner.split(|c: char| c.is_whitespace() || c == '<' || c == ')').find(|w| !w.is_empty())?;
    media_speed(word)
}

/// `networksetup -getMedia PORT` → the active speed.
pub fn parse_networksetup_media(text: &str) -> Option<u64> {
    let active = text.lines().find_map(|l| l.trim().strip_prefix("Active:"))?;
    media_speed(active.split_whitespace().next()?)
}

/// `10Gbase-T`, `1000baseT`, `2500Base-T`, `100baseTX` → Mb/s.
fn media_speed(word: &str) -> Option<u64> {
    let lower = word.to_ascii_lowercase();
    let idx = lower.find("base")?;
    let num = &lower[..idx];
    if let Some(g) = num.strip_suffix('g') {
        return g.parse::<f64>().ok().map(|g| (g * 1000.0) as u64);
    }
    num.parse().ok()
}

/// `df -kP`: (total, available) bytes of the last data line.
pub fn parse_df(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().skip(1).filter(|l| !l.trim().is_empty()).last()?;
    let cols: Vec<&str> = line.split_whitespace().collect();
    if cols.len() < 6 {
        return None;
    }
    let n = cols.len();
    // Filesystem names may contain spaces: count from the right.
    let total: u64 = cols[n - 5].parse().ok()?;
    let avail: u64 = cols[n - 3].parse().ok()?;
    Some((total * 1024, avail * 1024))
}

/// `NAME SPEED STATE` lines: the first interface that is up with a known speed.
fn parse_linux_net(text: &str) -> (Option<String>, Option<u64>) {
    let mut first = None;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 3 {
            continue;
        }
        let speed = cols[1].parse::<i64>().ok().filter(|s| *s > 0).map(|s| s as u64);
        if cols[2] == "up" && speed.is_some() {
            return (Some(cols[0].to_string()), speed);
        }
        first.get_or_insert((Some(cols[0].to_string()), speed));
    }
    first.unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::util::macos_fixture as fixture;

    #[test]
    fn sysctl_m1_pro() {
        let kv = parse_sysctl(&fixture("sysctl.hw-machdep-kern.m1pro-32g.txt"));
        assert_eq!(kv["hw.memsize"], "34359738368");
        assert_eq!(kv["hw.perflevel0.physicalcpu"], "8");
        assert_eq!(kv["hw.perflevel1.physicalcpu"], "2");
        assert_eq!(kv["machdep.cpu.brand_string"], "Apple M1 Pro");
        assert_eq!(kv["hw.model"], "MacBookPro18,1");
    }

    #[test]
    fn system_profiler_variants() {
        let m4 = parse_system_profiler(&fixture(
            "system_profiler.SPHardwareDataType.m4-mbp-24g.redacted.with-stderr-line.txt",
        ));
        assert_eq!(
            m4,
            SpHardware {
                chip: Some("M4".into()),
                model: Some("Mac16,1".into()),
                cores: Some(10),
                performance_cores: Some(4),
                efficiency_cores: Some(6),
                memory_bytes: Some(24 << 30),
            }
        );
        // macOS 15 prints the core kinds in lower case.
        let air = parse_system_profiler(&fixture("system_profiler.SPHardwareDataType.m4-air-24g.txt"));
        assert_eq!((air.cores, air.performance_cores, air.efficiency_cores), (Some(10), Some(4), Some(6)));
        assert_eq!(air.model.as_deref(), Some("Mac16,13"));
        let air2 = parse_system_profiler(&fixture(
            "system_profiler.SPHardwareDataType.m4-air-24g.no-activation-lock-line.txt",
        ));
        assert_eq!(air2.memory_bytes, Some(24 << 30));
    }

    #[test]
    fn link_speeds() {
        assert_eq!(parse_ifconfig_media(&fixture("ifconfig.en6.10gbase-t.tb-adapter.txt")), Some(10_000));
        assert_eq!(parse_networksetup_media(&fixture("networksetup-getMedia.tb-ethernet-1000baseT.txt")), Some(1000));
        assert_eq!(media_speed("2500Base-T"), Some(2500));
        assert_eq!(parse_ifconfig_media("\tmedia: autoselect\n"), None);
    }

    #[test]
    fn whole_macos_probe_from_fixtures() {
        let out = format!(
            "== uname\nDarwin\narm64\n25.5.0\n== sysctl\n{}== sw_vers\n{}== df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/disk3s5 971350180 500000000 400000000 56% /System/Volumes/Data\n== ifconfig\n{}",
            fixture("sysctl.hw-machdep-kern.m1pro-32g.txt"),
            fixture("sw_vers.macos26.5.m4-mbp.txt"),
            fixture("ifconfig.en6.10gbase-t.tb-adapter.txt"),
        );
        let f = parse(&out).unwrap();
        assert_eq!(f.os, "macos");
        assert_eq!(f.arch, "arm64");
        assert_eq!(f.chip.as_deref(), Some("M1 Pro"));
        assert_eq!((f.cores, f.performance_cores, f.efficiency_cores), (Some(10), Some(8), Some(2)));
        assert_eq!(f.memory_bytes, Some(34_359_738_368));
        assert_eq!(f.os_version.as_deref(), Some("macOS 26.5 (25F71)"));
        assert_eq!(f.disk_free_bytes, Some(400_000_000 * 1024));
        assert_eq!(f.link.as_deref(), Some("en6"));
        assert_eq!(f.link_speed_mbps, Some(10_000));
    }

    #[test]
    fn macos_without_perflevels_falls_back_to_system_profiler() {
        let out = format!(
            "== uname\nDarwin\narm64\n24.6.0\n== sysctl\n{}== system_profiler\n{}",
            fixture("sysctl.hw-selected.m4-mbp-24g.txt"),
            fixture("system_profiler.SPHardwareDataType.m4-air-24g.txt")
        );
        let f = parse(&out).unwrap();
        assert_eq!(f.chip.as_deref(), Some("M4"));
        assert_eq!((f.performance_cores, f.efficiency_cores), (Some(4), Some(6)));
        assert_eq!(f.memory_bytes, Some(25_769_803_776));
    }

    #[test]
    fn linux_sections() {
        let out = "== uname\nLinux\nx86_64\n6.1.0\n== os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n== cpu\nmodel name\t: AMD EPYC 7B13\nprocessors: 2\n== meminfo\nMemTotal:       24578652 kB\nMemFree: 1 kB\n== df\nFilesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/vda 263174212 11000000 83000000  12% /\n== net\neth0 10000 up\n";
        let f = parse(out).unwrap();
        assert_eq!(f.os, "linux");
        assert_eq!(f.os_version.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(f.chip.as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(f.cores, Some(2));
        assert_eq!(f.memory_bytes, Some(24_578_652 * 1024));
        assert_eq!(f.disk_total_bytes, Some(263_174_212 * 1024));
        assert_eq!(f.link_speed_mbps, Some(10_000));
        assert!(parse("garbage").is_err());
    }
}
