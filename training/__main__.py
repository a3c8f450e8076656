"""python -m predictions.training --output checkpoints/default [--quick] [--seed 0] [--skip-rf]"""

from .cli import main

if __name__ == "__main__":
    main()
