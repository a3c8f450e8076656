"""What the site shows about one molecule, without Django: 2D pictures and plots drawn within
time budgets (rendering, bounded), the report card and the approved-drug scatter (report),
structure search's chemistry (matching), the RDKit profile (drug-likeness, alerts), the units a
chemist reads, and what a salt's value means. The Django apps call it; it calls none of them."""
