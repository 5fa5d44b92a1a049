//! The steady-state cadence on the operator's host: the weekly placement review (its three
//! artifacts emailed) and the monthly report on the 1st, as systemd user timers or launchd
//! calendar jobs. Pure: the unit texts; `commands::schedule` writes, enables and reads them.
//!
//! Missed runs catch up: systemd's `Persistent=true` runs a timer that elapsed while the host was
//! off at the next boot; launchd runs a calendar job missed while the Mac slept when it wakes
//! (not one missed while it was powered off: `garnet schedule status` shows the last run from
//! the audit log, and the command can be run by hand).

use std::path::Path;

/// One scheduled job.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Job {
    /// `weekly` or `monthly`.
    pub kind: &'static str,
    pub description: String,
    /// garnet's arguments.
    pub args: Vec<String>,
    /// systemd's `OnCalendar=`.
    pub on_calendar: &'static str,
    /// launchd's `StartCalendarInterval`: (key, value) pairs.
    pub launchd_calendar: Vec<(&'static str, i64)>,
    /// How to tell this job's runs in the audit log (the start of their `command`).
    pub audit_command: &'static str,
}

/// The two jobs for the inventory at `inventory`, writing the reports into `out`.
pub fn jobs(inventory: &Path, out: &Path) -> Vec<Job> {
    let inv = inventory.display().to_string();
    vec![
        Job {
            kind: "weekly",
            description: "garnet weekly placement review (the last 7 whole days, emailed)".into(),
            args: [
                "-i",
                &inv,
                "placement",
                "diff",
                "--since",
                "7d",
                "--until",
                "yesterday",
                "--out",
                &out.join("weekly").display().to_string(),
                "--email",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            on_calendar: "Mon *-*-* 06:00:00 UTC",
            launchd_calendar: vec![("Weekday", 1), ("Hour", 6), ("Minute", 0)],
            audit_command: "garnet placement diff",
        },
        Job {
            kind: "monthly",
            description: "garnet monthly report (the last whole month, emailed)".into(),
            args: ["-i", &inv, "report", "--out", &out.join("monthly").display().to_string(), "--email"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            on_calendar: "*-*-01 06:00:00 UTC",
            launchd_calendar: vec![("Day", 1), ("Hour", 6), ("Minute", 0)],
            audit_command: "garnet report",
        },
    ]
}

/// The unit (file stem) or label of a job: `garnet-<slug>-weekly`.
pub fn unit_name(slug: &str, job: &Job) -> String {
    format!("garnet-{slug}-{}", job.kind)
}

/// The systemd user service and timer for `job`.
pub fn systemd(exe: &Path, slug: &str, job: &Job) -> (String, String) {
    let q = crate::node::service::sd_quote;
    let exec: Vec<String> =
        std::iter::once(exe.display().to_string()).chain(job.args.iter().cloned()).map(|a| q(&a)).collect();
    let service = format!(
        "[Unit]\nDescription={d}\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\nType=oneshot\nExecStart={exec}\n",
        d = job.description,
        exec = exec.join(" ")
    );
    let timer = format!(
        "[Unit]\nDescription={d} (timer)\n\n[Timer]\nOnCalendar={cal}\n# A run missed while the host was off happens at the next boot.\nPersistent=true\nUnit={unit}.service\n\n[Install]\nWantedBy=timers.target\n",
        d = job.description,
        cal = job.on_calendar,
        unit = unit_name(slug, job)
    );
    (service, timer)
}

/// launchd's label for a job: `dev.garnet.<slug>.weekly`.
pub fn launchd_label(slug: &str, job: &Job) -> String {
    format!("dev.garnet.{slug}.{}", job.kind)
}

/// The LaunchAgent property list for `job` (launchd's calendar is the Mac's local time).
pub fn launchd(exe: &Path, slug: &str, job: &Job, log_dir: &Path) -> String {
    use plist::{Dictionary, Value};
    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(launchd_label(slug, job)));
    let args = std::iter::once(exe.display().to_string()).chain(job.args.iter().cloned());
    d.insert("ProgramArguments".into(), Value::Array(args.map(Value::String).collect()));
    let cal: Dictionary =
        job.launchd_calendar.iter().map(|(k, v)| (k.to_string(), Value::Integer((*v).into()))).collect();
    d.insert("StartCalendarInterval".into(), Value::Dictionary(cal));
    let log = |ext: &str| log_dir.join(format!("{}.{ext}.log", unit_name(slug, job))).display().to_string();
    d.insert("StandardOutPath".into(), Value::String(log("out")));
    d.insert("StandardErrorPath".into(), Value::String(log("err")));
    let mut out = Vec::new();
    Value::Dictionary(d).to_writer_xml(&mut out).expect("plist serializes");
    out.push(b'\n');
    String::from_utf8(out).expect("plist is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_run_the_review_and_the_report_on_their_days() {
        let j = jobs(Path::new("/etc/garnet/acme.yaml"), Path::new("/var/lib/garnet/acme"));
        let (service, timer) = systemd(Path::new("/usr/local/bin/garnet"), "acme", &j[0]);
        assert!(service.contains("ExecStart=\"/usr/local/bin/garnet\" \"-i\" \"/etc/garnet/acme.yaml\" \"placement\" \"diff\" \"--since\" \"7d\" \"--until\" \"yesterday\""), "{service}");
        assert!(service.contains("\"--email\"\n") && service.contains("Type=oneshot"), "{service}");
        for line in
            ["OnCalendar=Mon *-*-* 06:00:00 UTC\n", "\nPersistent=true\n", "\nUnit=garnet-acme-weekly.service\n"]
        {
            assert!(timer.contains(line), "{line:?} not in {timer}");
        }
        let (_, monthly) = systemd(Path::new("/g"), "acme", &j[1]);
        assert!(monthly.contains("OnCalendar=*-*-01 06:00:00 UTC"), "{monthly}");
        let p = launchd(Path::new("/opt/garnet"), "acme", &j[1], Path::new("/logs"));
        let v = plist::Value::from_reader_xml(p.as_bytes()).unwrap();
        let d = v.as_dictionary().unwrap();
        assert_eq!(d["Label"].as_string(), Some("dev.garnet.acme.monthly"));
        let cal = d["StartCalendarInterval"].as_dictionary().unwrap();
        assert_eq!((cal["Day"].as_signed_integer(), cal["Hour"].as_signed_integer()), (Some(1), Some(6)));
        let args: Vec<&str> =
            d["ProgramArguments"].as_array().unwrap().iter().map(|a| a.as_string().unwrap()).collect();
        assert_eq!(args[..4], ["/opt/garnet", "-i", "/etc/garnet/acme.yaml", "report"]);
        assert_eq!(d["StandardErrorPath"].as_string(), Some("/logs/garnet-acme-monthly.err.log"));
    }
}
