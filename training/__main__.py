"""python -m training --output DIR [--quick] [--seed 0] [--skip-rf] | --fetch-data"""

from .cli import main

if __name__ == "__main__":
    main()
