"""The twin's processes: what runs in the processes it starts (Lambda workers, SageMaker
containers) and how they share the twin's clock. Imported by those processes at start-up, so
nothing here may import moto or the rest of the twin."""
