"""The training layer: the loop and its hooks, the recipes, the VAE's latent density, generation helpers and TensorBoard logging."""
