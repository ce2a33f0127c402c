vqboot test tools disk
