//! Hierarchical risk parity (López de Prado, 2016): allocation without inverting the
//! covariance, so estimation error in it cannot be amplified.
//!
//! Names are clustered by the correlation distance `√((1 − ρ)/2)` with single linkage,
//! ordered along the dendrogram (quasi-diagonalisation), and the budget is split down the
//! tree: at each bisection the two halves share it in inverse proportion to the variance of
//! their inverse-variance portfolios.

use crate::engines::covariance::ShrunkCovariance;

/// The leaves of a single-linkage dendrogram over the distance matrix `d` (`n × n`,
/// row-major), in dendrogram order. Merges follow the minimum spanning tree (Prim), ties
/// broken by index; each merge puts the cluster with the smaller id first, as SciPy does.
pub fn single_linkage_order(d: &[f64], n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    // Prim's minimum spanning tree: edge (parent, child, length).
    let mut in_tree = vec![false; n];
    let mut best = vec![f64::INFINITY; n];
    let mut parent = vec![0usize; n];
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    let mut current = 0;
    in_tree[0] = true;
    for _ in 1..n {
        let mut next = usize::MAX;
        let mut next_d = f64::INFINITY;
        for j in 0..n {
            if in_tree[j] {
                continue;
            }
            let dj = d[current * n + j];
            if dj < best[j] {
                best[j] = dj;
                parent[j] = current;
            }
            if best[j] < next_d || next == usize::MAX {
                next_d = best[j];
                next = j;
            }
        }
        in_tree[next] = true;
        edges.push((parent[next], next, next_d));
        current = next;
    }
    // Kruskal order over the tree edges gives the single-linkage merges.
    edges.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.min(a.1).cmp(&b.0.min(b.1))));
    // Union-find over clusters; each root knows its cluster id and leaves in order.
    let mut root: Vec<usize> = (0..n).collect();
    fn find(root: &mut [usize], mut i: usize) -> usize {
        while root[i] != i {
            root[i] = root[root[i]];
            i = root[i];
        }
        i
    }
    let mut cluster_id: Vec<usize> = (0..n).collect();
    let mut leaves: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    for (k, (a, b, _)) in edges.into_iter().enumerate() {
        let (ra, rb) = (find(&mut root, a), find(&mut root, b));
        let (first, second) = if cluster_id[ra] < cluster_id[rb] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let mut merged = std::mem::take(&mut leaves[first]);
        merged.extend(std::mem::take(&mut leaves[second]));
        root[second] = first;
        leaves[first] = merged;
        cluster_id[first] = n + k;
    }
    let top = find(&mut root, 0);
    std::mem::take(&mut leaves[top])
}

/// The variance of the inverse-variance portfolio of `members`.
fn cluster_variance(cov: &ShrunkCovariance, members: &[usize]) -> f64 {
    let inv: Vec<f64> = members
        .iter()
        .map(|&i| 1.0 / cov.get(i, i).max(f64::MIN_POSITIVE))
        .collect();
    let total: f64 = inv.iter().sum();
    let w: Vec<f64> = inv.iter().map(|v| v / total).collect();
    let mut var = 0.0;
    for (a, &i) in members.iter().enumerate() {
        for (b, &j) in members.iter().enumerate() {
            var += w[a] * w[b] * cov.get(i, j);
        }
    }
    var
}

/// HRP weights (summing to 1, all positive) for the names of `cov`.
pub fn hrp_weights(cov: &ShrunkCovariance) -> Vec<f64> {
    let n = cov.assets;
    let sd: Vec<f64> = (0..n).map(|i| cov.get(i, i).max(0.0).sqrt()).collect();
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let rho = if sd[i] > 0.0 && sd[j] > 0.0 {
                cov.get(i, j) / (sd[i] * sd[j])
            } else {
                0.0
            };
            d[i * n + j] = ((1.0 - rho) / 2.0).clamp(0.0, 1.0).sqrt();
        }
    }
    let order = single_linkage_order(&d, n);
    let mut w = vec![1.0; n];
    let mut stack = vec![order];
    while let Some(cluster) = stack.pop() {
        if cluster.len() < 2 {
            continue;
        }
        let (left, right) = cluster.split_at(cluster.len() / 2);
        let (vl, vr) = (cluster_variance(cov, left), cluster_variance(cov, right));
        let alpha = if vl + vr > 0.0 {
            1.0 - vl / (vl + vr)
        } else {
            0.5
        };
        for &i in left {
            w[i] *= alpha;
        }
        for &i in right {
            w[i] *= 1.0 - alpha;
        }
        stack.push(left.to_vec());
        stack.push(right.to_vec());
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(matrix: Vec<f64>, n: usize) -> ShrunkCovariance {
        ShrunkCovariance {
            assets: n,
            matrix,
            shrinkage: 0.0,
            target: 0.0,
        }
    }

    #[test]
    fn correlated_pairs_end_up_next_to_each_other() {
        // 0 and 2 move together, 1 and 3 move together.
        let d = [
            0.0, 0.9, 0.1, 0.8, //
            0.9, 0.0, 0.85, 0.2, //
            0.1, 0.85, 0.0, 0.9, //
            0.8, 0.2, 0.9, 0.0,
        ];
        let order = single_linkage_order(&d, 4);
        let pos = |i: usize| order.iter().position(|&o| o == i).unwrap();
        assert_eq!(pos(0).abs_diff(pos(2)), 1);
        assert_eq!(pos(1).abs_diff(pos(3)), 1);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3]);
    }

    #[test]
    fn uncorrelated_names_get_inverse_variance_weights_in_pairs() {
        // Diagonal covariance: HRP on two names is exactly inverse variance.
        let c = cov(vec![0.04, 0.0, 0.0, 0.01], 2);
        let w = hrp_weights(&c);
        assert!(
            (w[0] - 0.2).abs() < 1e-12 && (w[1] - 0.8).abs() < 1e-12,
            "{w:?}"
        );
    }

    #[test]
    fn weights_are_a_budget_and_favour_low_risk() {
        let n = 6;
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let vi = 0.01 * (1 + i) as f64;
                let vj = 0.01 * (1 + j) as f64;
                m[i * n + j] = if i == j { vi } else { 0.3 * (vi * vj).sqrt() };
            }
        }
        let w = hrp_weights(&cov(m, n));
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w.iter().all(|v| *v > 0.0));
        assert!(
            w[0] > w[n - 1],
            "the least volatile name outweighs the most: {w:?}"
        );
    }
}
