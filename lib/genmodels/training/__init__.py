"""The training layer: the loop and its hooks, the generator's weight average, the VAE's latent density,
generation helpers and TensorBoard logging."""
