//! The cost model: what running the cluster costs per second (retainer, hardware amortization,
//! energy at the measured watts), and so per million tokens at a given token rate.

use crate::inventory::Inventory;

/// Seconds in an average month (365.25 / 12 days).
pub const MONTH_SECS: f64 = 365.25 / 12.0 * 86_400.0;

/// Dollars per second: fixed (retainer + amortized hardware of every node) plus energy at `watts`
/// (the cluster's measured total; `None` when unknown, then energy is left out and said so).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CostRate {
    pub fixed_usd_per_month: f64,
    pub energy_usd_per_month: Option<f64>,
    /// Nodes whose `chip` has no `cost.hardware` entry (counted as free, and listed).
    pub unpriced_nodes: Vec<String>,
}

impl CostRate {
    pub fn usd_per_sec(&self) -> f64 {
        (self.fixed_usd_per_month + self.energy_usd_per_month.unwrap_or(0.0)) / MONTH_SECS
    }

    /// Dollars per million tokens at `tokens_per_sec` (None when there is no traffic).
    pub fn usd_per_mtok(&self, tokens_per_sec: f64) -> Option<f64> {
        (tokens_per_sec > 0.0).then(|| self.usd_per_sec() / tokens_per_sec * 1e6)
    }
}

pub fn rate(inv: &Inventory, watts: Option<f64>) -> Option<CostRate> {
    let cost = inv.cost.as_ref()?;
    let mut fixed = cost.retainer_usd_month.unwrap_or(0.0);
    let mut unpriced = Vec::new();
    for n in &inv.nodes {
        match n.chip.as_ref().and_then(|c| cost.hardware.get(c)) {
            Some(h) if h.amortization_months > 0 => fixed += h.price_usd / f64::from(h.amortization_months),
            _ => unpriced.push(n.name.clone()),
        }
    }
    let energy = watts.zip(cost.usd_per_kwh).map(|(w, p)| w / 1000.0 * (MONTH_SECS / 3600.0) * p);
    Some(CostRate { fixed_usd_per_month: fixed, energy_usd_per_month: energy, unpriced_nodes: unpriced })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_rack() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory.example.yaml");
        let inv = Inventory::from_str(std::path::Path::new(path), &std::fs::read_to_string(path).unwrap()).unwrap();
        let r = rate(&inv, Some(100.0)).unwrap();
        // 2500 + 2 × 2199/36 + 3999/36 + 999/36
        let fixed = 2500.0 + 2.0 * 2199.0 / 36.0 + 3999.0 / 36.0 + 999.0 / 36.0;
        assert!((r.fixed_usd_per_month - fixed).abs() < 1e-9, "{r:?}");
        // 100 W for a month at $0.21/kWh: 0.1 kW × 730.5 h × 0.21
        assert!((r.energy_usd_per_month.unwrap() - 0.1 * 730.5 * 0.21).abs() < 1e-9);
        assert!(r.unpriced_nodes.is_empty());
        // At 1000 tokens/s: dollars per second / 1000 × 1e6.
        let per_m = r.usd_per_mtok(1000.0).unwrap();
        assert!((per_m - r.usd_per_sec() * 1000.0).abs() < 1e-9);
        assert_eq!(r.usd_per_mtok(0.0), None);
    }
}
