using Hunch.Speculative;

namespace Hunch.Tests.Speculative;

public class AcceptanceEstimatorTests
{
    // The definition the estimator implements: every count decays by `decay` per step; a cell's estimate is its
    // decayed hits and trials shrunk towards its rank's decayed marginal, which is shrunk towards the prior.
    sealed class Eager(int depths, int ranks, double[] prior, double decay)
    {
        readonly double[] _hits = new double[depths * ranks], _trials = new double[depths * ranks];

        public void Record(int depth, int rank, double accepted)
        {
            int i = (Math.Clamp(depth, 1, depths) - 1) * ranks + Math.Clamp(rank, 0, ranks - 1);
            _hits[i] += accepted;
            _trials[i] += 1;
        }

        public void EndStep()
        {
            for (int i = 0; i < _hits.Length; i++) { _hits[i] *= decay; _trials[i] *= decay; }
        }

        public double Estimate(int depth, int rank)
        {
            int r = Math.Clamp(rank, 0, ranks - 1);
            double h = 0, t = 0;
            for (int d = 0; d < depths; d++) { h += _hits[d * ranks + r]; t += _trials[d * ranks + r]; }
            double rankMean = (h + 4 * prior[Math.Min(r, prior.Length - 1)]) / (t + 4);
            int i = (Math.Clamp(depth, 1, depths) - 1) * ranks + r;
            return Math.Clamp((_hits[i] + 6 * rankMean) / (_trials[i] + 6), 1e-4, 0.999);
        }
    }

    [Fact]
    public void ConstantTimeDecayMatchesDecayingEveryCount()
    {
        double[] prior = [0.5, 0.2, 0.1];
        // A fast decay makes the internal weight overflow-rescale many times within the run.
        foreach (double decay in new[] { 0.995, 0.5 })
        {
            var lazy = new AcceptanceEstimator(5, 4, prior, decay);
            var eager = new Eager(5, 4, prior, decay);
            var rng = new Random(7);
            for (int step = 0; step < 3000; step++)
            {
                int records = rng.Next(6);
                for (int k = 0; k < records; k++)
                {
                    int depth = rng.Next(0, 8), rank = rng.Next(0, 6);
                    double label = rng.NextDouble() < 0.3 ? rng.NextDouble() : rng.Next(2);
                    lazy.Record(depth, rank, label);
                    eager.Record(depth, rank, label);
                }
                lazy.EndStep();
                eager.EndStep();
                if (step % 97 == 0 || step > 2990)
                    for (int d = 1; d <= 5; d++)
                        for (int r = 0; r < 4; r++)
                            Assert.Equal(eager.Estimate(d, r), lazy.Estimate(d, r), 9);
            }
            lazy.Reset();
            Assert.Equal(prior[1], lazy.Estimate(3, 1), 12);
        }
    }
}
