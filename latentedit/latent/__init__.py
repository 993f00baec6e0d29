"""latentedit.latent"""
