namespace Hunch.Training;

/// <summary>AdamW (decoupled weight decay) over the heads' parameters, with bias correction.</summary>
internal sealed class AdamW
{
    readonly DraftHeads _heads;
    internal readonly float[][] MW, VW, MB, VB;
    readonly float _lr, _wd;
    const float Beta1 = 0.9f, Beta2 = 0.999f, Eps = 1e-8f;
    internal long T;

    public AdamW(DraftHeads heads, float learningRate, float weightDecay)
    {
        _heads = heads;
        _lr = learningRate;
        _wd = weightDecay;
        MW = heads.Weights.Select(w => new float[w.Length]).ToArray();
        VW = heads.Weights.Select(w => new float[w.Length]).ToArray();
        MB = heads.Biases.Select(b => new float[b.Length]).ToArray();
        VB = heads.Biases.Select(b => new float[b.Length]).ToArray();
    }

    public void Update(float[][] gradWeights, float[][] gradBiases)
    {
        T++;
        float c1 = 1f / (1f - MathF.Pow(Beta1, T)), c2 = 1f / (1f - MathF.Pow(Beta2, T));
        for (int k = 0; k < _heads.HeadCount; k++)
        {
            Apply(_heads.Weights[k], gradWeights[k], MW[k], VW[k], c1, c2, _wd);
            Apply(_heads.Biases[k], gradBiases[k], MB[k], VB[k], c1, c2, 0f);
        }
    }

    void Apply(float[] p, float[] g, float[] m, float[] v, float c1, float c2, float wd)
    {
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
            v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
            p[i] -= _lr * (m[i] * c1 / (MathF.Sqrt(v[i] * c2) + Eps) + wd * p[i]);
        }
    }
}
