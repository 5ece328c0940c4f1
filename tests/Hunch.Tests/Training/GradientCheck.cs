namespace Hunch.Tests.Training;

/// <summary>Central finite differences against a hand-written backward pass, shared by the heads and adapter tests.</summary>
static class GradientCheck
{
    /// <summary>Perturbs each parameter by ±eps and compares (loss(+) − loss(−)) / 2eps with its analytic gradient.</summary>
    public static void Check(float[] parameters, float[] analytic, Func<double> loss, string name = "parameter")
    {
        const float eps = 1e-2f;
        for (int i = 0; i < parameters.Length; i++)
        {
            float saved = parameters[i];
            parameters[i] = saved + eps; double up = loss();
            parameters[i] = saved - eps; double down = loss();
            parameters[i] = saved;
            double numeric = (up - down) / (2 * eps);
            double tol = 2e-3 + 2e-2 * Math.Abs(numeric);
            Assert.True(Math.Abs(numeric - analytic[i]) < tol, $"{name}[{i}]: analytic {analytic[i]} vs numeric {numeric}");
        }
    }
}
