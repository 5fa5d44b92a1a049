//! Power over a sample's window, from whichever source the node has:
//! - RAPL energy counters (Linux x86, read by the monitor itself);
//! - the Apple Silicon SoC's sensors (macOS, through the `macmon` crate): a thread polls them in
//!   5-second intervals and [`SocWindow`] integrates the energy until the monitor takes the window;
//! - a metered PDU outlet (`nodes[].power_command`, any command printing the node's watts), which
//!   wins over the others when configured: it is the wall, not an estimate from inside the chip.
//!
//! The arithmetic is here, apart from the sources, so it is tested on every platform.

use std::time::Duration;

use super::{Fan, Power};

/// One polling interval of the SoC's sensors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocReading {
    pub secs: f64,
    /// CPU + GPU + ANE.
    pub package_watts: f64,
    /// The whole machine as the SMC sees it (absent on some models).
    pub system_watts: Option<f64>,
    pub cpu_celsius: Option<f64>,
    pub gpu_celsius: Option<f64>,
    pub fans: Vec<Fan>,
}

/// What the SoC's sensors said over a sample's window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocSummary {
    pub power: Power,
    pub cpu_celsius: Option<f64>,
    pub gpu_celsius: Option<f64>,
    pub fans: Vec<Fan>,
}

/// Energy integrated over the readings since the last [`SocWindow::take`]; the latest
/// temperatures and fans.
#[derive(Debug, Default)]
pub struct SocWindow {
    secs: f64,
    package_j: f64,
    system_j: f64,
    system_secs: f64,
    last: Option<SocReading>,
}

impl SocWindow {
    pub fn add(&mut self, r: SocReading) {
        self.secs += r.secs;
        self.package_j += r.package_watts * r.secs;
        if let Some(w) = r.system_watts {
            self.system_j += w * r.secs;
            self.system_secs += r.secs;
        }
        self.last = Some(r);
    }

    /// The window's averages and energy (`None` before the first reading), and a new window.
    pub fn take(&mut self) -> Option<SocSummary> {
        let w = std::mem::take(self);
        let last = w.last?;
        let round = |x: f64| (x * 10.0).round() / 10.0;
        // Only a system reading over the whole window gives the window's system energy.
        let whole = w.system_secs >= w.secs * 0.999;
        let system_watts = (w.system_secs > 0.0).then(|| round(w.system_j / w.system_secs));
        Some(SocSummary {
            power: Power {
                package_watts: (w.secs > 0.0).then(|| round(w.package_j / w.secs)),
                system_watts,
                energy_joules: Some(round(if whole { w.system_j } else { w.package_j })),
                source: Some("soc".into()),
            },
            cpu_celsius: last.cpu_celsius,
            gpu_celsius: last.gpu_celsius,
            fans: last.fans,
        })
    }
}

/// The watts in a power command's output: its last number (`1234.5`, `87 W`,
/// `... = INTEGER: 412`, `Outlet 3 power: 87`).
pub fn parse_watts(out: &str) -> Option<f64> {
    out.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|t| t.parse::<f64>().ok())
        .next_back()
        .filter(|w| w.is_finite() && *w >= 0.0)
}

/// Runs the node's power command (the local transport: `sh -c`, 10 s at most, the whole process
/// tree killed on timeout) and reads its watts.
pub async fn read_pdu(command: &str) -> Result<f64, String> {
    use crate::transport::{RunRequest, Transport, TransportError, local::Local};
    let req = RunRequest { timeout: Some(Duration::from_secs(10)), capture: true, ..RunRequest::new(command) };
    let out = match Local.run(req).await {
        Ok(o) => o,
        Err(TransportError::Timeout(_)) => return Err("power command: no answer within 10 s".into()),
        Err(e) => return Err(format!("power command: cannot run it: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.success() {
        let how = match (out.exit_code, &out.signal) {
            (Some(c), _) => format!("exit status: {c}"),
            (None, s) => format!("killed by signal {}", s.as_deref().unwrap_or("?")),
        };
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("power command: {how} ({})", err.trim().lines().last().unwrap_or("")));
    }
    parse_watts(&stdout).ok_or_else(|| format!("power command: no watts in its output `{}`", stdout.trim()))
}

/// A PDU reading at the end of a window, with the previous one: the system's power and the energy
/// between them (trapezoid). The first reading has no window, so no energy.
pub fn pdu_power(watts: f64, previous: Option<(f64, f64)>, package_watts: Option<f64>) -> Power {
    Power {
        package_watts,
        system_watts: Some(watts),
        energy_joules: previous.map(|(w0, secs)| ((w0 + watts) / 2.0 * secs * 10.0).round() / 10.0),
        source: Some("pdu".into()),
    }
}

/// Apple Silicon: the sensors through `macmon`, polled on a thread of their own (its sampler
/// blocks for each interval and keeps IOReport state between calls).
#[cfg(target_os = "macos")]
pub mod soc {
    use std::sync::{Arc, Mutex};

    use super::{SocReading, SocWindow};
    use crate::telemetry::Fan;

    const INTERVAL_MS: u32 = 5000;

    /// Starts the polling thread; readings accumulate in the returned window.
    pub fn start() -> Arc<Mutex<SocWindow>> {
        let window = Arc::new(Mutex::new(SocWindow::default()));
        let w = window.clone();
        let spawned = std::thread::Builder::new().name("garnet-soc".into()).spawn(move || {
            let mut sampler = match macmon::Sampler::new() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("Apple Silicon sensors unavailable (no SoC power or temperatures): {e}");
                    return;
                }
            };
            loop {
                match sampler.get_metrics(INTERVAL_MS) {
                    Ok(m) => {
                        let r = reading(&m, f64::from(INTERVAL_MS) / 1000.0);
                        if let Ok(mut g) = w.lock() {
                            g.add(r);
                        }
                    }
                    Err(e) => {
                        tracing::warn!("Apple Silicon sensors: {e}; retrying in a minute");
                        std::thread::sleep(std::time::Duration::from_secs(60));
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the Apple Silicon sensor thread: {e}");
        }
        window
    }

    fn reading(m: &macmon::Metrics, secs: f64) -> SocReading {
        SocReading {
            secs,
            package_watts: f64::from(m.all_power),
            system_watts: (m.sys_power > 0.0).then(|| f64::from(m.sys_power)),
            cpu_celsius: m.temp.cpu_temp_avg.map(f64::from),
            gpu_celsius: m.temp.gpu_temp_avg.map(f64::from),
            fans: m.fans.iter().map(|f| Fan { name: f.name.clone(), rpm: f.rpm }).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(secs: f64, pkg: f64, sys: Option<f64>) -> SocReading {
        SocReading { secs, package_watts: pkg, system_watts: sys, cpu_celsius: Some(50.0), ..Default::default() }
    }

    #[test]
    fn soc_window_integrates_energy_and_resets() {
        let mut w = SocWindow::default();
        assert_eq!(w.take(), None);
        w.add(r(5.0, 10.0, Some(30.0)));
        w.add(r(5.0, 20.0, Some(40.0)));
        let s = w.take().unwrap();
        assert_eq!(s.power.package_watts, Some(15.0));
        assert_eq!(s.power.system_watts, Some(35.0));
        assert_eq!(s.power.energy_joules, Some(350.0), "system energy over the whole window");
        assert_eq!(s.cpu_celsius, Some(50.0));
        assert_eq!(w.take(), None, "taking starts a new window");
        // No system reading for part of the window: the energy is the package's.
        w.add(r(5.0, 10.0, None));
        w.add(r(5.0, 10.0, Some(30.0)));
        let s = w.take().unwrap();
        assert_eq!((s.power.system_watts, s.power.energy_joules), (Some(30.0), Some(100.0)));
    }

    #[test]
    fn watts_from_pdu_outputs() {
        assert_eq!(parse_watts("1234.5\n"), Some(1234.5));
        assert_eq!(parse_watts("Outlet 3 power: 87 W"), Some(87.0));
        assert_eq!(parse_watts("87 W"), Some(87.0));
        assert_eq!(parse_watts("SNMPv2-SMI::enterprises.318.1.1.26.6.3.1.7.1 = INTEGER: 412"), Some(412.0));
        assert_eq!(parse_watts("no reading"), None);
        assert_eq!(parse_watts("-5"), None);
        let p = pdu_power(100.0, Some((80.0, 60.0)), Some(12.0));
        assert_eq!((p.system_watts, p.energy_joules, p.package_watts), (Some(100.0), Some(5400.0), Some(12.0)));
        assert_eq!(pdu_power(100.0, None, None).energy_joules, None);
    }

    #[tokio::test]
    async fn pdu_command_is_run_and_its_failures_are_clear() {
        assert_eq!(read_pdu("echo 42.5").await, Ok(42.5));
        let e = read_pdu("echo nope").await.unwrap_err();
        assert!(e.contains("no watts in its output `nope`"), "{e}");
        let e = read_pdu("echo broken >&2; exit 3").await.unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("broken"), "{e}");
    }
}
