"""newsbeam's pipeline steps: one composite PTransform per domain step.

Each module holds one step's composite transform and the plain functions it
calls; those functions are tested without Beam.
"""
