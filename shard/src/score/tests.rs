use super::*;
use crate::schema::Distance;

const DOT: Metric = Metric(Distance::Dot);

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn best_score_prefers_positives_and_squashes() {
    let o = Objective::BestScore {
        positive: vec![vec![1.0, 0.0]],
        negative: vec![vec![0.0, 1.0]],
    };
    // sim(pos) = 3 > sim(neg) = 1: 0.5·(3/4 + 1).
    assert!(close(o.score(DOT, &[3.0, 1.0]), 0.875));
    // sim(neg) = 3 ≥ sim(pos) = 1: −0.5·(3/4 + 1).
    assert!(close(o.score(DOT, &[1.0, 3.0]), -0.875));
    // Only negatives: always the negative branch.
    let neg_only = Objective::BestScore {
        positive: vec![],
        negative: vec![vec![1.0, 0.0]],
    };
    assert!(close(neg_only.score(DOT, &[0.0, 0.0]), -0.5));
    // A point chosen by a positive never ranks below one chosen by a negative.
    assert!(o.score(DOT, &[-9.0, -10.0]) > o.score(DOT, &[10.0, 10.0]));
}

#[test]
fn sum_scores_adds_positives_subtracts_negatives() {
    let o = Objective::SumScores {
        positive: vec![vec![1.0, 0.0], vec![1.0, 1.0]],
        negative: vec![vec![0.0, 1.0]],
    };
    // (2 + 5) − 3
    assert!(close(o.score(DOT, &[2.0, 3.0]), 4.0));
}

#[test]
fn discover_rank_plus_target_sigmoid() {
    let pair = |p: [f32; 2], n: [f32; 2]| Pair {
        positive: p.to_vec(),
        negative: n.to_vec(),
    };
    let o = Objective::Discover {
        target: vec![1.0, 0.0],
        pairs: vec![
            pair([1.0, 0.0], [0.0, 1.0]),
            pair([0.0, 1.0], [1.0, 0.0]),
            pair([1.0, 1.0], [1.0, 1.0]),
        ],
    };
    // v = (2, 1): +1, −1, 0 (tie) → rank 0; sim(target) = 2 → 0.5·(2/3 + 1).
    assert!(close(o.score(DOT, &[2.0, 1.0]), 0.5 * (2.0 / 3.0 + 1.0)));
    let mut bad_target = o.clone();
    if let Objective::Discover { target, .. } = &mut bad_target {
        *target = vec![-100.0, 0.0];
    }
    // v = (1, 3): −1, +1, 0 → rank 0, target far: still in (0, 1).
    let s = bad_target.score(DOT, &[1.0, 3.0]);
    assert!(s > 0.0 && s < 0.01, "{s}");
}

#[test]
fn context_loss_is_zero_only_inside_every_pair() {
    let o = Objective::Context {
        pairs: vec![
            Pair {
                positive: vec![1.0, 0.0],
                negative: vec![0.0, 1.0],
            },
            Pair {
                positive: vec![0.0, 1.0],
                negative: vec![-1.0, 0.0],
            },
        ],
    };
    // v = (2, 1): pair 1 diff 1 (no loss, ε aside), pair 2 diff 1 + 2 = 3 → ~0.
    assert!(o.score(DOT, &[2.0, 1.0]).abs() < 1e-6);
    // v = (0, 1): pair 1 diff −1 → −1/2; pair 2 diff 1 → 0.
    assert!(close(o.score(DOT, &[0.0, 1.0]), -0.5));
}

#[test]
fn nearest_is_the_metric() {
    let q = [1.0, 2.0];
    assert_eq!(Nearest(&q).score(DOT, &[3.0, 4.0]), 11.0);
    assert_eq!(Nearest(&q).dim(), 2);
}
