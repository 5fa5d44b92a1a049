//! Parsers for macOS command outputs (run with `LC_ALL=C`, but parsed defensively: the swap line
//! may carry comma decimals, `vm_stat` columns vary in width, `sysctl -n` drops the key).

use super::{Memory, Thermal};

/// `vm_stat`: page size from the header, then `Name: N.` lines. Returns (page size, pages by name).
pub fn parse_vm_stat(text: &str) -> Option<(u64, std::collections::BTreeMap<String, u64>)> {
    let mut lines = text.lines();
    let header = lines.next()?;
    let page = header.split("page size of").nth(1)?.split_whitespace().next()?.parse().ok()?;
    let mut map = std::collections::BTreeMap::new();
    for l in lines {
        let Some((k, v)) = l.rsplit_once(':') else { continue };
        let v = v.trim().trim_end_matches('.');
        if let Ok(n) = v.parse::<u64>() {
            map.insert(k.trim().trim_matches('"').to_string(), n);
        }
    }
    Some((page, map))
}

/// `sysctl vm.swapusage` (with or without the key; `.` or `,` decimals): (total, used) bytes.
pub fn parse_swapusage(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.contains("total ="))?;
    let field = |name: &str| -> Option<u64> {
        let v = line.split(&format!("{name} =")).nth(1)?.split_whitespace().next()?;
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.replace(',', ".").parse().ok()?;
        let mult = match unit {
            "K" => 1024.0,
            "M" => 1024.0 * 1024.0,
            "G" => 1024.0 * 1024.0 * 1024.0,
            _ => return None,
        };
        Some((n * mult).round() as u64)
    };
    Some((field("total")?, field("used")?))
}

/// `kern.memorystatus_vm_pressure_level`: 1 normal, 2 warn, 4 critical.
pub fn pressure_level(n: u64) -> &'static str {
    match n {
        1 => "normal",
        2 => "warn",
        4 => "critical",
        _ => "unknown",
    }
}

/// `sysctl kern.memorystatus_vm_pressure_level …` lines (other keys ignored).
pub fn parse_memorystatus(text: &str) -> Option<&'static str> {
    let v = text.lines().find_map(|l| l.strip_prefix("kern.memorystatus_vm_pressure_level:"))?;
    Some(pressure_level(v.trim().parse().ok()?))
}

/// `memory_pressure -Q`: (total bytes, free percent).
pub fn parse_memory_pressure_q(text: &str) -> Option<(u64, u32)> {
    let total =
        text.lines().find_map(|l| l.strip_prefix("The system has "))?.split_whitespace().next()?.parse().ok()?;
    let free = text
        .lines()
        .find_map(|l| l.strip_prefix("System-wide memory free percentage:"))?
        .trim()
        .trim_end_matches('%')
        .parse()
        .ok()?;
    Some((total, free))
}

/// `pmset -g therm`: Apple silicon prints only notes; Intel Macs report a CPU speed limit.
pub fn parse_pmset_therm(text: &str) -> Thermal {
    let limit = text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "CPU_Speed_Limit").then(|| v.trim().parse().ok())?
    });
    let pressure = limit.map(|l: u32| if l < 100 { "throttled".to_string() } else { "nominal".to_string() });
    Thermal { pressure, cpu_speed_limit: limit, ..Thermal::default() }
}

/// Memory from `vm_stat` and the swap line: used = active + wired + compressor-occupied pages.
pub fn memory(vm_stat: &str, swapusage: &str, total: Option<u64>, pressure: Option<&str>) -> Option<Memory> {
    let (page, p) = parse_vm_stat(vm_stat)?;
    let pages = |k: &str| p.get(k).copied();
    let used = [pages("Pages active"), pages("Pages wired down"), pages("Pages occupied by compressor")]
        .into_iter()
        .try_fold(0u64, |acc, x| x.map(|x| acc + x))
        .map(|n| n * page);
    let (swap_total, swap_used) = parse_swapusage(swapusage).unzip();
    Some(Memory {
        total_bytes: total,
        used_bytes: used,
        free_bytes: pages("Pages free").map(|n| n * page),
        compressed_bytes: pages("Pages occupied by compressor").map(|n| n * page),
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_used,
        pressure: pressure.map(str::to_string),
        swapins: pages("Swapins"),
        swapouts: pages("Swapouts"),
    })
}

/// Runs the commands on this Mac (root-less, `LC_ALL=C`) and parses them.
pub fn collect() -> (Memory, Thermal) {
    let run = |cmd: &str, args: &[&str]| -> String {
        std::process::Command::new(cmd)
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let total = run("sysctl", &["-n", "hw.memsize"]).trim().parse().ok();
    let level = run("sysctl", &["kern.memorystatus_vm_pressure_level"]);
    let mem = memory(&run("vm_stat", &[]), &run("sysctl", &["vm.swapusage"]), total, parse_memorystatus(&level))
        .unwrap_or_default();
    (mem, parse_pmset_therm(&run("pmset", &["-g", "therm"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::util::macos_fixture as fixture;

    #[test]
    fn vm_stat_every_capture() {
        for f in [
            "vm_stat.loaded-48g.txt",
            "vm_stat.m4-mbp-24g-swapping.txt",
            "vm_stat.macos26-24g.txt",
            "vm_stat.m4-24g.txt",
            "vm_stat.m1pro-32g.txt",
        ] {
            let (page, p) = parse_vm_stat(&fixture(f)).unwrap_or_else(|| panic!("{f}"));
            assert!(page == 16384 || page == 4096, "{f}: page {page}");
            for key in ["Pages free", "Pages active", "Pages wired down", "Pages occupied by compressor"] {
                assert!(p.contains_key(key), "{f}: {key}");
            }
        }
        let (page, p) = parse_vm_stat(&fixture("vm_stat.m4-24g.txt")).unwrap();
        assert_eq!(page, 16384);
        assert_eq!(p["Pages free"], 46159);
        assert_eq!(p["Translation faults"], 3_933_802_562);
        assert_eq!(p["Swapouts"], 4_821_464);
    }

    #[test]
    fn swap_lines_in_every_form() {
        assert_eq!(
            parse_swapusage(&fixture("sysctl.vm.swapusage.m4-mbp-24g-swapping.txt")),
            Some((16384 << 20, (15348.81f64 * 1048576.0).round() as u64))
        );
        assert_eq!(
            parse_swapusage(&fixture("sysctl-n.vm.swapusage.loaded-48g.txt")),
            Some((5120 << 20, (4259.25f64 * 1048576.0).round() as u64))
        );
        assert_eq!(
            parse_swapusage(&fixture("sysctl.vm.swapusage.comma-decimal-locale.txt")),
            Some((1024 << 20, (379.25f64 * 1048576.0).round() as u64))
        );
    }

    #[test]
    fn pressure_and_therm() {
        assert_eq!(
            parse_memorystatus(&fixture("sysctl.memorystatus-level-pressure-swapusage.m4-mbp-24g-swapping.txt")),
            Some("warn")
        );
        assert_eq!(
            parse_memory_pressure_q(&fixture("memory_pressure-Q.m4-mbp-24g-swapping.txt")),
            Some((25_769_803_776, 37))
        );
        assert_eq!(parse_pmset_therm(&fixture("pmset-g-therm.m4-air-macos15.txt")), Thermal::default());
        let intel = parse_pmset_therm(&fixture("pmset-g-therm.intel-cpu-power-notify.txt"));
        assert_eq!((intel.cpu_speed_limit, intel.pressure.as_deref()), (Some(100), Some("nominal")));
    }

    #[test]
    fn memory_of_a_swapping_m4() {
        let m = memory(
            &fixture("vm_stat.m4-mbp-24g-swapping.txt"),
            &fixture("sysctl.vm.swapusage.m4-mbp-24g-swapping.txt"),
            Some(25_769_803_776),
            parse_memorystatus(&fixture("sysctl.memorystatus-level-pressure-swapusage.m4-mbp-24g-swapping.txt")),
        )
        .unwrap();
        assert_eq!(m.pressure.as_deref(), Some("warn"));
        assert!(m.used_bytes.unwrap() < m.total_bytes.unwrap(), "{m:?}");
        assert!(m.compressed_bytes.unwrap() > 1 << 30, "a heavily compressed machine: {m:?}");
        assert_eq!(m.swap_total_bytes, Some(16384 << 20));
    }
}
